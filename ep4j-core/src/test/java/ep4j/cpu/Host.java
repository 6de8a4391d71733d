package ep4j.cpu;

import ep4j.BufferSpec;
import ep4j.DType;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/** Test helpers: run a body on every rank of a fresh CPU group, and read tensors into arrays. */
final class Host {
    private Host() {
    }

    @FunctionalInterface
    interface RankBody<T> {
        T run(int rank, EpBuffer buffer) throws Exception;
    }

    /** A fresh group of {@code ranks} and one buffer per rank; closed afterwards. */
    static <T> List<T> run(int ranks, BufferSpec spec, RankBody<T> body) {
        try (EpGroup g = EpGroup.cpu(ranks); EpBuffers b = g.allocate(spec)) {
            return g.onEachRank(r -> body.run(r, b.rank(r)));
        }
    }

    static long[] longs(Tensor t) {
        int n = Math.toIntExact(t.numel());
        long[] out = new long[n];
        if (t.dtype() == DType.INT64) {
            MemorySegment.copy(t.segment(), ValueLayout.JAVA_LONG_UNALIGNED, 0, out, 0, n);
        } else {
            int[] v = ints(t);
            for (int i = 0; i < n; i++) {
                out[i] = v[i];
            }
        }
        return out;
    }

    static int[] ints(Tensor t) {
        int n = Math.toIntExact(t.numel());
        int[] out = new int[n];
        MemorySegment.copy(t.segment(), ValueLayout.JAVA_INT_UNALIGNED, 0, out, 0, n);
        return out;
    }

    static float[] floats(Tensor t) {
        int n = Math.toIntExact(t.numel());
        float[] out = new float[n];
        MemorySegment.copy(t.segment(), ValueLayout.JAVA_FLOAT_UNALIGNED, 0, out, 0, n);
        return out;
    }

    static short[] shorts(Tensor t) {
        int n = Math.toIntExact(t.numel());
        short[] out = new short[n];
        MemorySegment.copy(t.segment(), ValueLayout.JAVA_SHORT_UNALIGNED, 0, out, 0, n);
        return out;
    }

    static byte[] bytes(Tensor t) {
        return t.segment().toArray(ValueLayout.JAVA_BYTE);
    }

    /**
     * Random non-zero bf16 bit patterns over 33 binades (so that float sums round and their order
     * shows), reproducible from the seed.
     */
    static short[] randomBf16(int n, long seed) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        short[] v = new short[n];
        for (int i = 0; i < n; i++) {
            float f = (1 + rnd.nextInt(128) / 128f) * Math.scalb(1f, rnd.nextInt(33) - 16) * (rnd.nextBoolean() ? 1 : -1);
            v[i] = (short) (Float.floatToRawIntBits(f) >>> 16);
        }
        return v;
    }

    static Tensor bf16(short[] v, long... shape) {
        return Tensor.ofBf16Bits(v, shape);
    }
}
