package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.EpGroup;
import ep4j.PeerDiedException;
import java.io.File;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A rank's process killed (SIGKILL) while its peer waits for it in a call, on the GPU backend with
 * one process per GPU: the survivor raises {@link PeerDiedException} naming the dead rank and the
 * call, within milliseconds rather than at the buffer's timeout, and exits cleanly (no hang, no
 * trap). The two ranks are child JVMs ({@link DeadPeerRank}) that meet through the TCP rendezvous
 * as under torchrun.
 */
@Tag("gpu")
class DeadPeerGpuTest {
    @ParameterizedTest(name = "killed while the peer waits in {0}")
    @ValueSource(strings = {"dispatch", "combine"})
    void theSurvivorNamesTheDeadRankAndTheCall(String op) throws Exception {
        GpuRequired.gpus(2);
        long timeout = 20_000;
        Path dir = Files.createTempDirectory("ep4j-dead-peer-" + op);
        List<Process> ranks = new ArrayList<>();
        try {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            String token = UUID.randomUUID().toString();
            for (int r = 0; r < 2; r++) {
                ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED", "-cp", classPath(), DeadPeerRank.class.getName(), op,
                        dir.toString(), Long.toString(timeout));
                Map<String, String> env = pb.environment();
                env.put("RANK", Integer.toString(r));
                env.put("WORLD_SIZE", "2");
                env.put("LOCAL_RANK", Integer.toString(r));
                env.put("LOCAL_WORLD_SIZE", "2");
                env.put("MASTER_ADDR", "127.0.0.1");
                env.put("MASTER_PORT", Integer.toString(port));
                env.put("EP4J_JOB_TOKEN", token);
                pb.redirectErrorStream(true).redirectOutput(dir.resolve("log." + r).toFile());
                ranks.add(pb.start());
            }
            awaitFile(dir, "ready.1", ranks, 120_000);
            awaitFile(dir, "ready.0", ranks, 120_000);
            Thread.sleep(200); // rank 0 is inside the call, waiting for rank 1
            Process victim = ranks.get(1);
            long pid = victim.pid();
            Instant killed = Instant.now();
            victim.destroyForcibly();
            assertTrue(victim.waitFor(10, TimeUnit.SECONDS), "rank 1 died");
            Process survivor = ranks.get(0);
            assertTrue(survivor.waitFor(timeout + 30_000, TimeUnit.MILLISECONDS),
                    "rank 0 still runs " + (timeout + 30_000) + " ms after the kill: it hangs; " + logs(dir));
            assertEquals(0, survivor.exitValue(), logs(dir));
            String[] result = Files.readString(dir.resolve("result.0")).split("\n", 5);
            String at = String.join(" | ", result) + "; " + logs(dir);
            assertEquals(PeerDiedException.class.getName(), result[0], at);
            assertEquals("1", result[1], at);
            assertEquals(op, result[2], at);
            assertTrue(result[4].contains(op + " on rank 0 failed: rank 1 (pid " + pid + ") died"), at);
            long micros = Long.parseLong(result[3]) - ChronoUnit.MICROS.between(Instant.EPOCH, killed);
            System.out.printf("dead-peer detection on the GPU (%s): rank 0 raised %s %.1f ms after rank 1 was killed:"
                    + " %s%n", op, PeerDiedException.class.getSimpleName(), micros / 1000.0, result[4]);
            assertTrue(micros < timeout * 1000 / 4, "detected well within the timeout: " + micros + " us; " + at);
        } finally {
            for (Process p : ranks) {
                p.destroyForcibly();
            }
        }
    }

    /** This test's classes, the backend's and the API's: the child needs nothing else. */
    private static String classPath() throws URISyntaxException {
        Set<String> parts = new LinkedHashSet<>();
        for (Class<?> c : new Class<?>[] {DeadPeerRank.class, CudaBackend.class, EpGroup.class}) {
            parts.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        }
        return String.join(File.pathSeparator, parts);
    }

    private static void awaitFile(Path dir, String name, List<Process> ranks, long millis) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!Files.exists(dir.resolve(name))) {
            for (int r = 0; r < ranks.size(); r++) {
                if (!ranks.get(r).isAlive()) {
                    throw new AssertionError("rank " + r + " exited (" + ranks.get(r).exitValue() + ") before " + name
                            + "; " + logs(dir));
                }
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("no " + name + " after " + millis + " ms; " + logs(dir));
            }
            Thread.sleep(5);
        }
    }

    private static String logs(Path dir) throws Exception {
        StringBuilder s = new StringBuilder();
        for (int r = 0; r < 2; r++) {
            Path log = dir.resolve("log." + r);
            s.append("\n--- rank ").append(r).append(": ").append(Files.exists(log) ? Files.readString(log) : "");
        }
        return s.toString();
    }
}
