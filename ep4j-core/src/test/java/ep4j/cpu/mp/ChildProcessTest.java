package ep4j.cpu.mp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.PeerDiedException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Multi-process CPU groups of real processes: child JVMs ({@link RankMain}) started with this
 * test's class path, meeting through a {@link FileRendezvous}. Their results are those of the
 * single-JVM group bit for bit; a rank killed with SIGKILL inside a call is reported by every
 * survivor, naming it and the call, well within the timeout; nothing is left under /dev/shm, and
 * what a job killed whole leaves is removed when the next group starts.
 */
class ChildProcessTest {
    private static String jobId(String what) {
        return what + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Test
    void childJvmsGiveTheBytesOfTheSingleJvmGroup() throws Exception {
        List<Outputs> single = Groups.inOneJvm(Scenario.RANKS, Scenario.spec(Duration.ofSeconds(20)), Scenario::run);
        try (ChildJvms job = new ChildJvms(jobId("scenario")).start("scenario", Scenario.RANKS, 20_000)) {
            for (int r = 0; r < Scenario.RANKS; r++) {
                assertEquals(0, job.awaitExit(r, 60_000), "rank " + r + " exit code; " + job.logs());
            }
            for (int r = 0; r < Scenario.RANKS; r++) {
                Outputs got;
                try (InputStream in = Files.newInputStream(job.dir.resolve("out." + r))) {
                    got = Outputs.readFrom(in);
                }
                assertNull(single.get(r).difference(got), "rank " + r + " (a child JVM) against the single-JVM group");
            }
            assertEquals(List.of(), Groups.files(job.jobId));
        }
    }

    @ParameterizedTest(name = "killed in {0}")
    @ValueSource(strings = {"dispatch", "combine"})
    void aRankKilledInsideACallIsNamedByEverySurvivor(String op) throws Exception {
        long timeout = 10_000;
        try (ChildJvms job = new ChildJvms(jobId("kill-" + op)).start("kill-" + op, 3, timeout)) {
            job.awaitFile("ready.0", 60_000);
            job.awaitFile("ready.1", 60_000);
            Thread.sleep(300); // ranks 0 and 1 are inside the call, waiting for rank 2
            Process victim = job.ranks.get(1);
            long pid = victim.pid();
            assertTrue(victim.isAlive(), "rank 1 still waits inside " + op);
            assertFalse(Files.exists(job.dir.resolve("result.1")));
            Instant killed = Instant.now();
            victim.destroyForcibly(); // SIGKILL
            assertTrue(victim.waitFor(10, TimeUnit.SECONDS));
            Files.writeString(job.dir.resolve("go"), ""); // rank 2 makes the call only now
            for (int r : new int[] {0, 2}) {
                assertEquals(0, job.awaitExit(r, timeout + 10_000), "rank " + r + " exit code; " + job.logs());
                String[] result = job.read("result." + r).split("\n", 5);
                String at = "rank " + r + ": " + String.join(" | ", result);
                assertEquals(PeerDiedException.class.getName(), result[0], at);
                assertEquals("1", result[1], at);
                assertEquals(op, result[2], at);
                assertTrue(result[4].contains(op + " on rank " + r + " failed: rank 1 (pid " + pid + ") died"), at);
                long micros = Long.parseLong(result[3]) - ChronoUnit.MICROS.between(Instant.EPOCH, killed);
                System.out.printf("dead-peer detection (%s): rank %d raised %s %.1f ms after rank 1 was killed%s%n", op,
                        r, result[0], micros / 1000.0, r == 2 ? " (it entered the call after the kill)" : "");
                assertTrue(micros < timeout * 1000, at + " after " + micros + " us");
            }
            assertEquals(List.of(), Groups.files(job.jobId), "the survivors removed the dead rank's files too");
        }
    }

    @Test
    void aProcessThatExitsWithoutClosingLeavesNoFile() throws Exception {
        try (ChildJvms job = new ChildJvms(jobId("exit")).start("exit", 2, 10_000)) {
            for (int r = 0; r < 2; r++) {
                assertEquals(0, job.awaitExit(r, 60_000), "rank " + r + " exit code; " + job.logs());
            }
            assertTrue(Files.exists(job.dir.resolve("barrier.0.done")), "the ranks got through their calls");
            assertEquals(List.of(), Groups.files(job.jobId), "the shutdown hook removed them");
        }
    }

    @Test
    void whatAJobKilledWholeLeftIsRemovedWhenTheNextGroupStarts() throws Exception {
        String id = jobId("killed-whole");
        try (ChildJvms job = new ChildJvms(id).start("hang", 2, 10_000)) {
            job.awaitFile("ready.0", 60_000);
            job.awaitFile("ready.1", 60_000);
            List<Path> before = Groups.files(id);
            assertTrue(before.size() >= 2, "each rank made its control file: " + before);
            for (Process p : job.ranks) {
                p.destroyForcibly();
                assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            }
            assertEquals(before, Groups.files(id), "a SIGKILL leaves the files (no hook runs)");
            // The next multi-process group on this host (any job) sweeps them.
            Groups.asProcesses(1, BufferSpec.normal(128, 1), (r, buf) -> null).rank(0).get();
            assertEquals(List.of(), Groups.files(id));
        }
    }
}
