package ep4j.cli.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.CliRun;
import ep4j.cli.npy.Npy;
import ep4j.cli.npy.NpyArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.lifecycle.AfterTry;

/**
 * Bad input through {@code ep4j replay}, fuzzed: a valid saved case (2 ranks, 4 tokens, hidden
 * 128, top-2 of 4 experts) damaged at random, from jqwik's seeds: .npy files truncated, extended,
 * overwritten at random byte positions and lengths, or rewritten big-endian, Fortran-ordered,
 * with another dtype or shape (huge and overflowing ones included); meta.json cut, overwritten,
 * or with values that are wrong or disagree with the files; expert indices out of range or
 * negative other than -1; options that cannot fit. Damage that makes the case invalid by
 * construction must give exit code 1 and one line {@code ep4j: error: ...} naming the file (or
 * option), with no stack trace and nothing at --out; random overwrites may happen to leave a
 * valid case, which must then replay whole. Legal oddities pass: duplicated experts in a token,
 * and NaN or infinities in x, which reach recv_x.npy bit for bit. Every run is bounded in time.
 * The hand-written cases with their exact messages are in {@link ReplayInputTest}.
 */
class ReplayFuzzTest {
    private static final int T = 4;
    private static final int H = 128;
    private static final int K = 2;
    private static final int E = 4;
    private static final String[] FILES = {"x.npy", "topk_idx.npy", "topk_weights.npy"};
    private static final Duration BOUND = Duration.ofSeconds(30);

    /** The folders this try made, removed after it. */
    private final List<Path> roots = new ArrayList<>();

    @AfterTry
    void removeFolders() throws IOException {
        for (Path root : roots) {
            try (Stream<Path> all = Files.walk(root)) {
                for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        roots.clear();
    }

    private Path folder() throws IOException {
        Path root = Files.createTempDirectory("ep4j-replay-fuzz");
        roots.add(root);
        return root;
    }

    /** A fresh case in a fresh folder (jqwik tries share no @TempDir). */
    private Path freshCase() throws IOException {
        return ReplayOutputTest.writeCase(folder().resolve("case"), 2, T, H, K, E);
    }

    private record Outcome(CliRun run, Path out) {
    }

    private static Outcome replay(Path in, String... extra) {
        Path out = in.resolveSibling("out");
        List<String> args = new ArrayList<>(List.of("replay", "--in", in.toString(), "--out", out.toString(),
                "--backend", "cpu"));
        args.addAll(List.of(extra));
        CliRun run = assertTimeoutPreemptively(BOUND, () -> CliRun.of(args.toArray(String[]::new)));
        return new Outcome(run, out);
    }

    /** Exit 1, one line naming {@code names}, no stack trace, nothing at --out, no staging folder left. */
    private static void rejected(Outcome o, String names, String why) throws IOException {
        CliRun run = o.run();
        assertEquals(1, run.code(), why + "\n" + run);
        String err = run.err().strip();
        assertEquals(1, err.lines().count(), why + "\n" + run);
        assertTrue(err.startsWith("ep4j: error: "), run.toString());
        assertTrue(err.contains(names), "names " + names + " (" + why + "): " + err);
        assertFalse(err.contains("\tat ") || err.contains("Exception"), run.toString());
        assertNothingWritten(o.out());
    }

    /** Exit 0 and the whole output; or, when {@code mayFail}, the same as {@link #rejected}. */
    private static void wholeOrRejected(Outcome o, String names, String why) throws IOException {
        if (o.run().code() == 0) {
            assertTrue(Files.isRegularFile(o.out().resolve("replay.json")), o.run().toString());
            assertTrue(Files.isRegularFile(o.out().resolve("rank1").resolve("combined_x.npy")), o.run().toString());
        } else {
            rejected(o, names, why);
        }
    }

    private static void assertNothingWritten(Path out) throws IOException {
        assertFalse(Files.exists(out), "nothing written at --out");
        try (Stream<Path> s = Files.list(out.getParent())) {
            assertEquals(List.of("case"), s.map(p -> p.getFileName().toString()).toList(), "no staging folder left");
        }
    }

    /** A .npy file damaged by one of seven kinds of damage. */
    @Property(tries = 60)
    void damagedNpyFiles(@ForAll long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        Path in = freshCase();
        String rel = "rank" + rnd.nextInt(2) + "/" + FILES[rnd.nextInt(FILES.length)];
        Path file = in.resolve(rel);
        byte[] bytes = Files.readAllBytes(file);
        NpyArray array = Npy.read(file);
        byte[] data = Arrays.copyOfRange(bytes, bytes.length - (int) array.data().byteSize(), bytes.length);
        String descr = array.type().descr();
        String shape = Npy.shapeTuple(array.shape());
        int kind = rnd.nextInt(7);
        String why;
        boolean mustFail = true;
        switch (kind) {
            case 0 -> {
                int len = rnd.nextInt(bytes.length);
                why = "truncated to " + len + " of " + bytes.length + " bytes";
                bytes = Arrays.copyOf(bytes, len);
            }
            case 1 -> {
                byte[] more = new byte[1 + rnd.nextInt(64)];
                rnd.nextBytes(more);
                why = more.length + " bytes appended";
                byte[] longer = Arrays.copyOf(bytes, bytes.length + more.length);
                System.arraycopy(more, 0, longer, bytes.length, more.length);
                bytes = longer;
            }
            case 2 -> {
                int at = rnd.nextInt(bytes.length);
                int len = 1 + rnd.nextInt(Math.min(16, bytes.length - at));
                byte[] noise = new byte[len];
                rnd.nextBytes(noise);
                System.arraycopy(noise, 0, bytes, at, len);
                why = len + " random bytes at " + at;
                mustFail = false;
            }
            case 3 -> {
                why = "big-endian";
                bytes = ReplayInputTest.npy(ReplayInputTest.dict(">" + descr.substring(1), false, shape), data);
            }
            case 4 -> {
                why = "Fortran order";
                bytes = ReplayInputTest.npy(ReplayInputTest.dict(descr, true, shape), data);
            }
            case 5 -> {
                String[] others = {"<f8", "<f2", "<i4", "<i8", "|u1", "|b1", "<u8", "<c8", "|O", "|S4", "<M8[s]"};
                String other;
                do {
                    other = others[rnd.nextInt(others.length)];
                } while (other.equals(descr));
                why = "dtype " + other;
                bytes = ReplayInputTest.npy(ReplayInputTest.dict(other, false, shape), data);
            }
            default -> {
                long[][] shapes = {{T + 1 + rnd.nextInt(8), array.shape()[1]}, {T, array.shape()[1] + 1 + rnd.nextInt(8)},
                    {T * array.shape()[1]}, {1, T, array.shape()[1]}, {Long.MAX_VALUE, Long.MAX_VALUE},
                    {rnd.nextLong(1L << 40, Long.MAX_VALUE), 2}, {0, array.shape()[1]}};
                long[] s = shapes[rnd.nextInt(shapes.length)];
                why = "shape " + Arrays.toString(s);
                bytes = ReplayInputTest.npy(ReplayInputTest.dict(descr, false, Npy.shapeTuple(s)), data);
            }
        }
        Files.write(file, bytes);
        Outcome o = replay(in);
        if (mustFail) {
            rejected(o, in.resolve(rel).toString(), rel + ": " + why);
        } else {
            wholeOrRejected(o, in.resolve(rel).toString(), rel + ": " + why);
        }
    }

    /** meta.json cut, overwritten, or with a value that is wrong or disagrees with the files. */
    @Property(tries = 40)
    void damagedMetaJson(@ForAll long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        Path in = freshCase();
        Path meta = in.resolve("meta.json");
        String text = Files.readString(meta);
        String[] keys = {"ranks", "experts", "hidden", "topk"};
        int kind = rnd.nextInt(4);
        String why;
        boolean mustFail = true;
        String names = in.toString() + "/";
        switch (kind) {
            case 0 -> {
                int len = rnd.nextInt(text.length());
                why = "cut to " + len + " characters";
                Files.writeString(meta, text.substring(0, len));
                names = meta.toString();
            }
            case 1 -> {
                byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                int at = rnd.nextInt(bytes.length);
                bytes[at] = (byte) rnd.nextInt(256);
                why = "byte " + at + " overwritten";
                Files.write(meta, bytes);
                mustFail = false;
            }
            case 2 -> {
                String key = keys[rnd.nextInt(keys.length)];
                String[] bad = {"0", "-1", "\"2\"", "1.5", "1e3", "null", "true", "[2]", "{}", "99999999999",
                    Long.toString(Long.MIN_VALUE), "2147483648"};
                String value = bad[rnd.nextInt(bad.length)];
                why = key + " = " + value;
                Files.writeString(meta, text.replaceFirst("\"" + key + "\": \\d+", "\"" + key + "\": " + value));
                names = meta + ": \"" + key + "\" = ";
            }
            default -> {
                // Valid JSON, valid each on its own, but not what the files hold.
                int which = rnd.nextInt(5);
                String[][] edits = {{"\"ranks\": 2", "\"ranks\": 1"}, {"\"ranks\": 2", "\"ranks\": 4"},
                    {"\"hidden\": 128", "\"hidden\": " + (128 + 8 * (1 + rnd.nextInt(10)))},
                    {"\"topk\": 2", "\"topk\": 1"}, {"\"experts\": 4", "\"experts\": 2"}};
                why = edits[which][1];
                Files.writeString(meta, text.replace(edits[which][0], edits[which][1]));
                // experts 2: indices up to 3 are then out of range; the error names the index file.
            }
        }
        Outcome o = replay(in);
        if (mustFail) {
            rejected(o, names, why);
        } else {
            wholeOrRejected(o, names, why);
        }
    }

    /** Expert indices at or past E or negative other than -1 must fail; duplicates in a token are legal and replay. */
    @Property(tries = 20)
    void expertIndices(@ForAll long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        Path in = freshCase();
        int rank = rnd.nextInt(2);
        Path file = in.resolve("rank" + rank + "/topk_idx.npy");
        long[] idx = Npy.read(file).toLongArray();
        int slot = rnd.nextInt(idx.length);
        int kind = rnd.nextInt(3);
        if (kind == 2) {
            idx[slot - slot % K + 1] = idx[slot - slot % K]; // a duplicated expert in one token: legal (DESIGN 2.2)
        } else {
            idx[slot] = kind == 0 ? E + rnd.nextLong(1L << 40) : -2 - rnd.nextLong(1L << 40);
        }
        Npy.write(file, NpyArray.ofLongs(idx, T, K));
        Outcome o = replay(in);
        if (kind == 2) {
            assertEquals(0, o.run().code(), "duplicates are legal: " + o.run());
            return;
        }
        rejected(o, file + ": element [" + slot / K + ", " + slot % K + "] = " + idx[slot] + " is out of range: expected -1"
                + " (no expert) or 0..3", "index " + idx[slot]);
    }

    /** NaN and infinities are legal bf16 data: replayed, and received bit for bit. */
    @Property(tries = 10)
    void nanAndInfinityInX(@ForAll long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        Path in = freshCase();
        Path file = in.resolve("rank0/x.npy");
        float[] x = Npy.read(file).toFloatArray();
        int[] specials = {0x7FC00000, 0xFFC00000, 0x7FC10000, 0x7F810000, 0x7F800000, 0xFF800000};
        for (int n = 1 + rnd.nextInt(8); n > 0; n--) {
            x[rnd.nextInt(x.length)] = Float.intBitsToFloat(specials[rnd.nextInt(specials.length)]);
        }
        Npy.write(file, NpyArray.ofFloats(x, T, H));
        Outcome o = replay(in);
        assertEquals(0, o.run().code(), o.run().toString());
        // Rank 0's own tokens come first on every rank they go to; token t of rank 0 goes to rank 0 when one of its experts is 0 or 1.
        long[] idx = Npy.read(in.resolve("rank0/topk_idx.npy")).toLongArray();
        float[] recv = Npy.read(o.out().resolve("rank0/recv_x.npy")).toFloatArray();
        int row = 0;
        for (int t = 0; t < T; t++) {
            if (idx[t * K] < 2 || idx[t * K + 1] < 2) {
                for (int c = 0; c < H; c++) {
                    assertEquals(Float.floatToRawIntBits(x[t * H + c]), Float.floatToRawIntBits(recv[row * H + c]),
                            "token " + t + " channel " + c);
                }
                row++;
            }
        }
    }

    /** --fp8 with a hidden size that is not a multiple of 128, and a low-latency capacity past an int. */
    @Property(tries = 10)
    void optionsThatCannotFit(@ForAll long seed) throws IOException {
        SplittableRandom rnd = new SplittableRandom(seed);
        Path root = folder();
        if (rnd.nextBoolean()) {
            int h = 8 * (1 + rnd.nextInt(15));
            Path in = ReplayOutputTest.writeCase(root.resolve("case"), 2, T, h, K, E);
            rejected(replay(in, "--fp8"), "--fp8 needs hidden to be a multiple of 128; meta.json says " + h, "hidden " + h);
        } else {
            Path in = ReplayOutputTest.writeCase(root.resolve("case"), 2, T, H, K, E);
            int n = Integer.MAX_VALUE / 2 + 1 + rnd.nextInt(Integer.MAX_VALUE / 2);
            rejected(replay(in, "--low-latency", "--max-tokens", Integer.toString(n)), "--max-tokens " + n, "capacity " + n);
        }
    }
}
