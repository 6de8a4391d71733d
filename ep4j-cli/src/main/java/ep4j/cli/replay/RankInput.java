package ep4j.cli.replay;

import ep4j.cli.npy.Npy;
import ep4j.cli.npy.NpyArray;
import ep4j.cli.npy.NpyType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One rank's saved inputs, checked: {@code x.npy} float32 {@code [T, H]} holding values that
 * bf16 represents exactly (converted to bf16 bits here), {@code topk_idx.npy} int64 (int32
 * accepted) {@code [T, K]} in {@code [-1, E)}, {@code topk_weights.npy} float32 {@code [T, K]}.
 */
record RankInput(int rank, int tokens, MemorySegment xBf16, long[] topkIdx, float[] topkWeights) {
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static RankInput load(Path in, int rank, ReplayMeta meta) throws IOException {
        Path dir = in.resolve("rank" + rank);
        Path xFile = dir.resolve("x.npy");
        NpyArray x = read(xFile, "float32 [T, hidden] holding bf16 values")
                .expect(xFile.toString(), "hidden = " + meta.hidden() + " from meta.json", NpyType.FLOAT32, -1, meta.hidden());
        if (x.dim(0) > Integer.MAX_VALUE) {
            throw new ReplayException(xFile + ": shape " + x.shapeString() + " holds " + x.dim(0) + " tokens, expected at"
                    + " most " + Integer.MAX_VALUE);
        }
        int t = (int) x.dim(0);
        String why = "T = " + t + " from x.npy, topk = " + meta.topk() + " from meta.json";
        Path idxFile = dir.resolve("topk_idx.npy");
        NpyArray idxArr = read(idxFile, "int64 (or int32) [T, topk]");
        long[] idx;
        if (idxArr.type() == NpyType.INT32) {
            idxArr.expect(idxFile.toString(), why, NpyType.INT32, t, meta.topk());
            idx = java.util.Arrays.stream(idxArr.toIntArray()).asLongStream().toArray();
        } else {
            idx = idxArr.expect(idxFile.toString(), why, NpyType.INT64, t, meta.topk()).toLongArray();
        }
        for (int i = 0; i < idx.length; i++) {
            if (idx[i] < -1 || idx[i] >= meta.experts()) {
                throw new ReplayException(idxFile + ": element [" + i / meta.topk() + ", " + i % meta.topk()
                        + "] = " + idx[i] + " is out of range: expected -1 (no expert) or 0.." + (meta.experts() - 1)
                        + " (experts = " + meta.experts() + " from meta.json)");
            }
        }
        Path wFile = dir.resolve("topk_weights.npy");
        float[] w = read(wFile, "float32 [T, topk]").expect(wFile.toString(), why, NpyType.FLOAT32, t, meta.topk())
                .toFloatArray();
        return new RankInput(rank, t, toBf16(x, xFile.toString(), meta.hidden()), idx, w);
    }

    private static NpyArray read(Path p, String expected) throws IOException {
        if (!Files.isRegularFile(p)) {
            throw new ReplayException(p + ": " + (Files.exists(p) ? "not a file" : "not found") + " (expected " + expected + ")");
        }
        return Npy.read(p);
    }

    /** bf16 bits of float32 values that must be exactly bf16 (low 16 bits zero). */
    static MemorySegment toBf16(NpyArray x, String source, int hidden) {
        MemorySegment src = x.data();
        long n = x.numel();
        MemorySegment dst = java.lang.foreign.Arena.ofAuto().allocate(Math.max(1, n * 2), 64).asSlice(0, n * 2);
        for (long i = 0; i < n; i++) {
            float f = src.getAtIndex(F32, i);
            int bits = Float.floatToRawIntBits(f);
            if ((bits & 0xFFFF) != 0) {
                throw new ReplayException(source + ": element [" + i / hidden + ", " + i % hidden + "] (flat index " + i
                        + ") = " + f + " (0x" + Integer.toHexString(bits) + ") is not exactly representable in bf16;"
                        + " x must hold bf16 values stored as float32 (x.astype(bfloat16).astype(float32))");
            }
            dst.setAtIndex(BF16, i, (short) (bits >>> 16));
        }
        return dst;
    }
}
