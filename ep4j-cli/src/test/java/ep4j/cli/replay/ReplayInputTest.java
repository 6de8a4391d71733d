package ep4j.cli.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.CliRun;
import ep4j.cli.npy.Npy;
import ep4j.cli.npy.NpyArray;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every malformed replay input gives one line {@code ep4j: error: ...} that names the file, the
 * bad value and what was expected; exit code 1, no stack trace, nothing written at --out. The
 * case is 2 ranks, 4 tokens each, hidden 128, top-2 of 4 experts ({@link ReplayOutputTest#writeCase}).
 */
class ReplayInputTest {
    static final int T = 4;
    static final int H = 128;

    @TempDir
    Path dir;

    @FunctionalInterface
    interface Damage {
        void apply(Path in) throws IOException;
    }

    /** A way to break the case and what the message must say (besides "ep4j: error: "). */
    record Bad(String name, Damage damage, List<String> says) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Bad bad(String name, Damage damage, String... says) {
        return new Bad(name, damage, List.of(says));
    }

    /** A version 1.0 .npy file with this header dict and these data bytes. */
    static byte[] npy(String dict, byte[] data) {
        int unpadded = 10 + dict.length() + 1;
        int total = (unpadded + 63) / 64 * 64;
        ByteBuffer bb = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        bb.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) (total - 10));
        bb.put(dict.getBytes(StandardCharsets.ISO_8859_1));
        while (bb.position() < total - 1) {
            bb.put((byte) ' ');
        }
        bb.put((byte) '\n');
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(bb.array());
        out.writeBytes(data);
        return out.toByteArray();
    }

    static String dict(String descr, boolean fortran, String shape) {
        return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
    }

    static void meta(Path in, String json) throws IOException {
        Files.writeString(in.resolve("meta.json"), json);
    }

    static Stream<Bad> badInputs() {
        byte[] xData = new byte[T * H * 4];
        return Stream.of(
            bad("npy shorter than its preamble", in -> Files.write(in.resolve("rank0/x.npy"), new byte[] {(byte) 0x93, 'N', 'U'}),
                "rank0/x.npy: 3 bytes", "expected a .npy file", "truncated"),
            bad("npy that is a zip", in -> Files.write(in.resolve("rank0/x.npy"), "PK\u0003\u0004 an npz archive".getBytes(StandardCharsets.ISO_8859_1)),
                "rank0/x.npy: starts with", "PK", "expected the .npy magic string \\x93NUMPY", ".npz"),
            bad("npy cut inside its header", in -> Files.write(in.resolve("rank0/x.npy"),
                    java.util.Arrays.copyOf(npy(dict("<f4", false, "(4, 128)"), xData), 40)),
                "rank0/x.npy: 40 bytes, but the header ends at byte 128 (truncated file?)"),
            bad("npy with truncated data", in -> Files.write(in.resolve("rank0/x.npy"), npy(dict("<f4", false, "(4, 128)"), new byte[1024])),
                "rank0/x.npy: holds 1024 data bytes, but shape (4, 128) of '<f4' needs 2048 (truncated file?)"),
            bad("npy with a mangled header", in -> Files.write(in.resolve("rank0/x.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4; 128), }", xData)),
                "rank0/x.npy: malformed header at character", "expected ',' or ')'"),
            bad("big-endian npy", in -> Files.write(in.resolve("rank1/topk_weights.npy"), npy(dict(">f4", false, "(4, 2)"), new byte[32])),
                "rank1/topk_weights.npy: dtype '>f4' is big-endian", "expected little-endian", "newbyteorder"),
            bad("Fortran-ordered npy", in -> Files.write(in.resolve("rank0/x.npy"), npy(dict("<f4", true, "(4, 128)"), xData)),
                "rank0/x.npy: 'fortran_order' is True (shape (4, 128)), expected False", "np.ascontiguousarray"),
            bad("npy shape whose size overflows", in -> Files.write(in.resolve("rank0/x.npy"), npy(dict("<f4", false, "(9223372036854775807, 9223372036854775807)"), xData)),
                "rank0/x.npy: shape (9223372036854775807, 9223372036854775807) of '<f4' is", "bytes", "expected at most 9223372036854775807"),
            bad("npy dimension beyond a long", in -> Files.write(in.resolve("rank0/x.npy"), npy(dict("<f4", false, "(99999999999999999999, 128)"), xData)),
                "rank0/x.npy: dimension 99999999999999999999 in the header", "expected at most 9223372036854775807"),
            bad("npy shape far larger than the file", in -> Files.write(in.resolve("rank0/x.npy"), npy(dict("<f4", false, "(1099511627776, 128)"), xData)),
                "rank0/x.npy: holds 2048 data bytes, but shape (1099511627776, 128) of '<f4' needs 562949953421312"),
            bad("npy of float64", in -> Files.write(in.resolve("rank0/x.npy"), npy(dict("<f8", false, "(4, 128)"), new byte[T * H * 8])),
                "rank0/x.npy: dtype '<f8' is not supported", "supported: '<f4' float32"),
            bad("x of int32", in -> Npy.write(in.resolve("rank0/x.npy"), NpyArray.ofInts(new int[T * H], T, H)),
                "rank0/x.npy: dtype is '<i4', expected '<f4'"),
            bad("topk_idx with another token count", in -> Npy.write(in.resolve("rank1/topk_idx.npy"), NpyArray.ofLongs(new long[6], 3, 2)),
                "rank1/topk_idx.npy: shape is (3, 2), expected (4, 2)", "T = 4 from x.npy", "topk = 2 from meta.json"),
            bad("x with another hidden", in -> Npy.write(in.resolve("rank0/x.npy"), NpyArray.ofFloats(new float[T * 64], T, 64)),
                "rank0/x.npy: shape is (4, 64), expected (*, 128)", "hidden = 128 from meta.json"),
            bad("missing x", in -> Files.delete(in.resolve("rank1/x.npy")),
                "rank1/x.npy: not found", "expected float32 [T, hidden]"),
            bad("ranks as a string", in -> meta(in, "{\"ranks\": \"2\", \"experts\": 4, \"hidden\": 128, \"topk\": 2}"),
                "meta.json: \"ranks\" = \"2\" (a string), expected a positive integer: write \"ranks\": 2, without quotes"),
            bad("ranks with a fraction", in -> meta(in, "{\"ranks\": 1.5, \"experts\": 4, \"hidden\": 128, \"topk\": 2}"),
                "meta.json: \"ranks\" = 1.5 (a number with a fraction or exponent), expected a positive integer"),
            bad("hidden beyond an int", in -> meta(in, "{\"ranks\": 2, \"experts\": 4, \"hidden\": 99999999999, \"topk\": 2}"),
                "meta.json: \"hidden\" = 99999999999, expected a positive integer up to 2147483647"),
            bad("zero topk", in -> meta(in, "{\"ranks\": 2, \"experts\": 4, \"hidden\": 128, \"topk\": 0}"),
                "meta.json: \"topk\" = 0, expected a positive integer"),
            bad("too many ranks", in -> meta(in, "{\"ranks\": 5000, \"experts\": 5000, \"hidden\": 128, \"topk\": 2}"),
                "meta.json: \"ranks\" = 5000, expected 1 to 1024"),
            bad("experts not a multiple of ranks", in -> meta(in, "{\"ranks\": 2, \"experts\": 5, \"hidden\": 128, \"topk\": 2}"),
                "meta.json: \"experts\" = 5, expected a multiple of \"ranks\" = 2"),
            bad("topk above experts", in -> meta(in, "{\"ranks\": 2, \"experts\": 4, \"hidden\": 128, \"topk\": 5}"),
                "meta.json: \"topk\" = 5, expected 1 to 4"),
            bad("hidden not a multiple of 8", in -> meta(in, "{\"ranks\": 2, \"experts\": 4, \"hidden\": 100, \"topk\": 2}"),
                "meta.json: \"hidden\" = 100, expected a multiple of 8"),
            bad("more ranks than folders", in -> meta(in, "{\"ranks\": 4, \"experts\": 4, \"hidden\": 128, \"topk\": 2}"),
                "meta.json: \"ranks\" = 4, but there is no rank2/", "expected rank0/ to rank3/"),
            bad("fewer ranks than folders", in -> meta(in, "{\"ranks\": 1, \"experts\": 4, \"hidden\": 128, \"topk\": 2}"),
                "meta.json: \"ranks\" = 1, but rank1/ exists too", "expected rank0/ only"),
            bad("missing key", in -> meta(in, "{\"ranks\": 2, \"experts\": 4, \"hidden\": 128}"),
                "meta.json: no \"topk\", expected a JSON object with \"ranks\", \"experts\", \"hidden\" and \"topk\""),
            bad("key given twice", in -> meta(in, "{\"ranks\": 2, \"ranks\": 3, \"experts\": 4, \"hidden\": 128, \"topk\": 2}"),
                "meta.json: invalid JSON at line 1, column ", "Duplicate field 'ranks'"),
            bad("JSON syntax error", in -> meta(in, "{\"ranks\": 2,\n \"experts\" 4}"),
                "meta.json: invalid JSON at line 2, column "),
            bad("JSON array", in -> meta(in, "[2, 4, 128, 2]"),
                "meta.json: the document is an array, expected a JSON object with \"ranks\""),
            bad("empty meta.json", in -> meta(in, ""),
                "meta.json: empty, expected a JSON object with \"ranks\"")
        );
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInputs")
    void isOneNamedLineAndWritesNothing(Bad bad) throws IOException {
        Path in = ReplayOutputTest.writeCase(dir.resolve("case"), 2, T, H, 2, 4);
        bad.damage().apply(in);
        Path out = dir.resolve("out");
        CliRun run = CliRun.of("replay", "--in", in.toString(), "--out", out.toString(), "--backend", "cpu");
        assertEquals(1, run.code(), run.toString());
        String err = run.err().strip();
        assertEquals(1, err.lines().count(), run.toString());
        assertTrue(err.startsWith("ep4j: error: " + in + "/"), run.toString());
        for (String s : bad.says()) {
            assertTrue(err.contains(s), "expected \"" + s + "\" in: " + err);
        }
        assertFalse(err.contains("Exception") || err.contains("\tat ") || err.contains("overflow"), run.toString());
        assertFalse(Files.exists(out), "nothing written at --out");
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(in), s.toList(), "no temporary folder left");
        }
    }

    @Test
    void aMissingInFolderIsNamed() {
        Path none = dir.resolve("none");
        CliRun run = CliRun.of("replay", "--in", none.toString(), "--out", dir.resolve("out").toString());
        assertEquals(1, run.code(), run.toString());
        assertEquals("ep4j: error: --in " + none + ": no such folder (expected a saved case: meta.json and rank0/,"
                + " rank1/, ...)", run.err().strip());
    }
}
