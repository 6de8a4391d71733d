package ep4j.cli.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.CliRun;
import ep4j.cli.Main;
import ep4j.cli.npy.Npy;
import ep4j.cli.npy.NpyArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --out is written whole or not at all. */
class ReplayOutputTest {
    @TempDir
    Path dir;

    Path in;

    /** A valid saved case: R ranks, T tokens each, hidden H, top-K of E experts; x all ones. */
    static Path writeCase(Path in, int ranks, int tokens, int hidden, int topk, int experts) throws IOException {
        Files.createDirectories(in);
        Files.writeString(in.resolve("meta.json"), "{\"ranks\": " + ranks + ", \"experts\": " + experts + ", \"hidden\": "
                + hidden + ", \"topk\": " + topk + "}");
        for (int r = 0; r < ranks; r++) {
            Path d = in.resolve("rank" + r);
            float[] x = new float[tokens * hidden];
            java.util.Arrays.fill(x, 1f);
            long[] idx = new long[tokens * topk];
            float[] w = new float[tokens * topk];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = (i % topk + (long) (i / topk) * 3) % experts;
                w[i] = 0.5f;
            }
            Npy.write(d.resolve("x.npy"), NpyArray.ofFloats(x, tokens, hidden));
            Npy.write(d.resolve("topk_idx.npy"), NpyArray.ofLongs(idx, tokens, topk));
            Npy.write(d.resolve("topk_weights.npy"), NpyArray.ofFloats(w, tokens, topk));
        }
        return in;
    }

    @BeforeEach
    void writeCase() throws IOException {
        in = writeCase(dir.resolve("case"), 2, 4, 128, 2, 4);
    }

    /** Everything in {@code dir} except the case. */
    Set<String> leftovers(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return new java.util.TreeSet<>(s.map(p -> p.getFileName().toString()).filter(n -> !n.equals("case")).toList());
        }
    }

    Replay load() throws IOException {
        return Replay.load(in, new Replay.Options(false, true, 0));
    }

    @Test
    void aRankThatFailsToWriteAfterAnotherWroteLeavesNothingAtOut() throws IOException {
        Path out = dir.resolve("new/sub/out");
        Set<String> written = ConcurrentHashMap.newKeySet();
        CountDownLatch rank0Done = new CountDownLatch(1);
        Replay.Sink sink = (file, array) -> {
            String name = file.getParent().getFileName() + "/" + file.getFileName();
            if (name.equals("rank1/ll_combined_x.npy")) {
                try {
                    rank0Done.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new IOException(file + ": No space left on device");
            }
            Npy.write(file, array);
            written.add(name);
            if (name.equals("rank0/ll_combined_x.npy")) {
                rank0Done.countDown();
            }
        };
        Exception e = assertThrows(Exception.class, () -> ReplayCommand.replayInto(load(), "cpu", out, sink));
        assertTrue(Main.oneLine(e).contains("No space left on device"), Main.oneLine(e));
        assertTrue(written.contains("rank0/ll_combined_x.npy") && written.contains("rank0/recv_x.npy"),
                "rank 0 wrote all its results before rank 1 failed: " + written);
        assertFalse(Files.exists(out), "nothing at --out");
        assertFalse(Files.exists(dir.resolve("new")), "the parents created for --out are gone too");
        assertEquals(Set.of(), leftovers(dir));
    }

    @Test
    void aRankThatFailsEarlyStopsTheOthersAndLeavesNothing() throws IOException {
        Path out = dir.resolve("out");
        Replay.Sink sink = (file, array) -> {
            if (file.endsWith(Path.of("rank1", "recv_x.npy"))) {
                throw new IOException(file + ": Permission denied");
            }
            Npy.write(file, array);
        };
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Exception e = assertThrows(Exception.class, () -> ReplayCommand.replayInto(load(), "cpu", out, sink));
            assertTrue(Main.oneLine(e).contains("Permission denied"), Main.oneLine(e));
        });
        assertFalse(Files.exists(out));
        assertEquals(Set.of(), leftovers(dir));
    }

    @Test
    void anEarlierReplayIsReplacedWhole() throws IOException {
        Path out = dir.resolve("out");
        CliRun first = CliRun.of("replay", "--in", in.toString(), "--out", out.toString(), "--backend", "cpu");
        assertEquals(0, first.code(), first.toString());
        Files.writeString(out.resolve("rank0/stale.npy"), "from an earlier run");
        CliRun second = CliRun.of("replay", "--in", in.toString(), "--out", out.toString(), "--backend", "cpu");
        assertEquals(0, second.code(), second.toString());
        assertFalse(Files.exists(out.resolve("rank0/stale.npy")), "the earlier output is replaced, not merged");
        assertTrue(Files.isRegularFile(out.resolve("rank1/combined_x.npy")));
        assertTrue(Files.isRegularFile(out.resolve("replay.json")));
        assertEquals(Set.of("out"), leftovers(dir), "no temporary folders left");
    }

    @Test
    void anEmptyFolderIsFilled() throws IOException {
        Path out = Files.createDirectories(dir.resolve("empty"));
        CliRun run = CliRun.of("replay", "--in", in.toString(), "--out", out.toString(), "--backend", "cpu");
        assertEquals(0, run.code(), run.toString());
        assertTrue(Files.isRegularFile(out.resolve("rank0/combined_x.npy")));
        assertEquals(Set.of("empty"), leftovers(dir));
    }

    @Test
    void otherFilesAtOutAreNeverTouched() throws IOException {
        Path mine = Files.createDirectories(dir.resolve("mine"));
        Files.writeString(mine.resolve("notes.txt"), "keep");
        CliRun folder = CliRun.of("replay", "--in", in.toString(), "--out", mine.toString(), "--backend", "cpu");
        assertEquals(1, folder.code(), folder.toString());
        assertEquals("ep4j: error: --out " + mine + " holds 'notes.txt', which a replay does not write: expected a new"
                + " path, an empty folder or the output of an earlier replay (replay.json and rankN/), which is replaced",
                folder.err().strip());
        assertEquals(List.of(mine.resolve("notes.txt")), list(mine));

        Path file = dir.resolve("file");
        Files.writeString(file, "keep");
        CliRun onFile = CliRun.of("replay", "--in", in.toString(), "--out", file.toString(), "--backend", "cpu");
        assertEquals(1, onFile.code(), onFile.toString());
        assertTrue(onFile.err().contains("--out " + file + " exists and is not a folder"), onFile.toString());
        assertEquals("keep", Files.readString(file));
        assertEquals(Set.of("mine", "file"), leftovers(dir));
    }

    private static List<Path> list(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return s.sorted().toList();
        }
    }
}
