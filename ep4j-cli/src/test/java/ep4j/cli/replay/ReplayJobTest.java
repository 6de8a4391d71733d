package ep4j.cli.replay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.ChildRun;
import ep4j.cli.CliRun;
import ep4j.cli.npy.Npy;
import ep4j.cli.npy.NpyArray;
import ep4j.codec.BFloat16;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ep4j launch -n 4 -- replay --backend cpu}: four JVMs, each replaying its own rank over
 * the CPU backend across processes, write the same files, byte for byte, as one JVM driving all
 * four ranks; a job of the wrong size is refused before anything is written.
 */
class ReplayJobTest {
    static final int R = 4;
    static final int E = 16;
    static final int H = 256;
    static final int K = 4;
    static final int[] T = {9, 0, 5, 12};

    @TempDir
    Path dir;

    Path in;

    @BeforeEach
    void writeCase() throws IOException {
        in = dir.resolve("case");
        SplittableRandom rnd = new SplittableRandom(2026);
        Files.createDirectories(in);
        Files.writeString(in.resolve("meta.json"), "{\"ranks\": 4, \"experts\": 16, \"hidden\": 256, \"topk\": 4}");
        for (int r = 0; r < R; r++) {
            float[] x = new float[T[r] * H];
            for (int i = 0; i < x.length; i++) {
                x[i] = BFloat16.toFloat(BFloat16.fromFloat((float) (rnd.nextDouble() * 8 - 4)));
            }
            long[] idx = new long[T[r] * K];
            float[] w = new float[T[r] * K];
            for (int t = 0; t < T[r]; t++) {
                List<Long> pool = new ArrayList<>();
                for (long e = 0; e < E; e++) {
                    pool.add(e);
                }
                for (int k = 0; k < K; k++) {
                    // distinct experts, and now and then an empty slot
                    idx[t * K + k] = rnd.nextInt(6) == 0 ? -1 : pool.remove(rnd.nextInt(pool.size()));
                    w[t * K + k] = (float) rnd.nextDouble();
                }
            }
            Path d = in.resolve("rank" + r);
            Npy.write(d.resolve("x.npy"), NpyArray.ofFloats(x, T[r], H));
            Npy.write(d.resolve("topk_idx.npy"), NpyArray.ofLongs(idx, T[r], K));
            Npy.write(d.resolve("topk_weights.npy"), NpyArray.ofFloats(w, T[r], K));
        }
    }

    private ChildRun ep4j(String... args) throws Exception {
        Path script = Path.of("").toAbsolutePath().resolveSibling("bin").resolve("ep4j");
        List<String> cmd = new ArrayList<>(List.of(script.toString()));
        cmd.addAll(List.of(args));
        return ChildRun.of(dir, Map.of("JAVA_HOME", System.getProperty("java.home"), "EP4J_CLASSPATH",
                ChildRun.classPath()), cmd);
    }

    @Test
    void fourProcessesWriteWhatOneJvmWrites() throws Exception {
        for (String[] mode : new String[][] {{}, {"--fp8"}}) {
            Path one = dir.resolve("one" + mode.length);
            Path four = dir.resolve("four" + mode.length);
            List<String> args = new ArrayList<>(List.of("replay", "--in", in.toString(), "--backend", "cpu",
                    "--low-latency"));
            args.addAll(List.of(mode));
            List<String> single = new ArrayList<>(args);
            single.addAll(List.of("--out", one.toString()));
            CliRun a = CliRun.of(single.toArray(String[]::new));
            assertEquals(0, a.code(), a.toString());

            List<String> job = new ArrayList<>(List.of("launch", "-n", "4", "--"));
            job.addAll(args);
            job.addAll(List.of("--out", four.toString()));
            ChildRun b = ep4j(job.toArray(String[]::new));
            assertEquals(0, b.code(), b.toString());
            assertTrue(b.out().contains("[rank 0] replayed on cpu (4 ranks, one process per rank"), b.toString());
            assertTrue(b.out().contains("[rank 3] rank 3: replayed; wrote "), b.toString());

            List<Path> files = files(one);
            assertEquals(files, files(four), "the same files");
            assertTrue(files.size() > 4 * 5, files.toString());
            for (Path f : files) {
                assertArrayEquals(Files.readAllBytes(one.resolve(f)), Files.readAllBytes(four.resolve(f)),
                        f + " (" + String.join(" ", mode) + ")");
            }
            try (Stream<Path> left = Files.list(dir)) {
                assertFalse(left.anyMatch(p -> p.getFileName().toString().contains(".partial-")),
                        "no staging folder left");
            }
        }
    }

    @Test
    void aJobOfTheWrongSizeIsRefusedAndWritesNothing() throws Exception {
        Path out = dir.resolve("out");
        ChildRun r = ep4j("launch", "-n", "2", "--", "replay", "--in", in.toString(), "--backend", "cpu", "--out",
                out.toString());
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("ep4j: error: meta.json: \"ranks\" = 4, but this job has 2 processes: run it with"
                + " ep4j launch -n 4 (one process per rank)"), r.toString());
        assertFalse(Files.exists(out), "nothing at --out");
    }

    private static List<Path> files(Path root) throws IOException {
        try (Stream<Path> all = Files.walk(root)) {
            return all.filter(Files::isRegularFile).map(root::relativize).sorted().toList();
        }
    }
}
