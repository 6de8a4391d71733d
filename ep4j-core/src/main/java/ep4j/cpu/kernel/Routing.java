package ep4j.cpu.kernel;

import ep4j.DType;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Routing arithmetic on host arrays: reading and range-checking topk indices, and the layout of
 * DESIGN 2.1. A token that lists the same expert in two of its topk slots selected that expert
 * once: it counts once in tokensPerExpert and is sent once to that expert (low latency).
 */
public final class Routing {
    public static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    public static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    public static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    public static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private Routing() {
    }

    /**
     * The indices of {@code idx [T, K]} (int64 or int32) as ints, after checking that each is -1
     * or an expert in [0, E): the first one that is not is an {@link InvalidArgumentException}
     * naming {@code name[t][k]}.
     */
    public static int[] readTopk(String name, Tensor idx, int numExperts) {
        int k = (int) idx.dim(1);
        int n = Math.toIntExact(idx.numel());
        int[] out = new int[n];
        MemorySegment seg = idx.segment();
        if (idx.dtype() == DType.INT64) {
            long[] v = new long[n];
            MemorySegment.copy(seg, LONG, 0, v, 0, n);
            for (int i = 0; i < n; i++) {
                long e = v[i];
                if (e < -1 || e >= numExperts) {
                    throw outOfRange(name, i, k, e, numExperts);
                }
                out[i] = (int) e;
            }
        } else {
            MemorySegment.copy(seg, INT, 0, out, 0, n);
            for (int i = 0; i < n; i++) {
                int e = out[i];
                if (e < -1 || e >= numExperts) {
                    throw outOfRange(name, i, k, e, numExperts);
                }
            }
        }
        return out;
    }

    private static InvalidArgumentException outOfRange(String name, int i, int k, long value, int numExperts) {
        return new InvalidArgumentException(name + "[" + (i / k) + "][" + (i % k) + "]", value,
                "-1 or an expert in [0, " + numExperts + ")");
    }

    /**
     * The layout of a routing: per-rank counts, per-expert counts and isTokenInRank.
     *
     * @param tokensPerRank   {@code [R]}: tokens with at least one expert on rank j
     * @param tokensPerExpert {@code [E]}: tokens that selected expert e (once each)
     * @param isTokenInRank   {@code [T * R]}: 1 where token t goes to rank j
     */
    public record Layout(int[] tokensPerRank, int[] tokensPerExpert, byte[] isTokenInRank) {
    }

    /** The layout of the routing {@code idx [tokens * topk]} over {@code ranks} ranks. */
    public static Layout layout(int[] idx, int tokens, int topk, int ranks, int numExperts) {
        int local = numExperts / ranks;
        int[] perRank = new int[ranks];
        int[] perExpert = new int[numExperts];
        byte[] inRank = new byte[tokens * ranks];
        int[] seen = new int[numExperts];
        for (int t = 0; t < tokens; t++) {
            int stamp = t + 1;
            for (int k = 0; k < topk; k++) {
                int e = idx[t * topk + k];
                if (e < 0 || seen[e] == stamp) {
                    continue;
                }
                seen[e] = stamp;
                perExpert[e]++;
                int j = e / local;
                if (inRank[t * ranks + j] == 0) {
                    inRank[t * ranks + j] = 1;
                    perRank[j]++;
                }
            }
        }
        return new Layout(perRank, perExpert, inRank);
    }

    /** For each destination rank, the tokens that go there in ascending order. */
    public static int[][] tokensTo(byte[] inRank, int tokens, int ranks) {
        int[] count = new int[ranks];
        for (int i = 0; i < inRank.length; i++) {
            if (inRank[i] != 0) {
                count[i % ranks]++;
            }
        }
        int[][] out = new int[ranks][];
        for (int j = 0; j < ranks; j++) {
            out[j] = new int[count[j]];
        }
        int[] fill = new int[ranks];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < ranks; j++) {
                if (inRank[t * ranks + j] != 0) {
                    out[j][fill[j]++] = t;
                }
            }
        }
        return out;
    }

    /** For each expert, the tokens that selected it (once each), in ascending order. */
    public static int[][] tokensOfExpert(int[] idx, int tokens, int topk, int numExperts) {
        int[] count = new int[numExperts];
        int[] seen = new int[numExperts];
        for (int t = 0; t < tokens; t++) {
            for (int k = 0; k < topk; k++) {
                int e = idx[t * topk + k];
                if (e >= 0 && seen[e] != t + 1) {
                    seen[e] = t + 1;
                    count[e]++;
                }
            }
        }
        int[][] out = new int[numExperts][];
        for (int e = 0; e < numExperts; e++) {
            out[e] = new int[count[e]];
        }
        java.util.Arrays.fill(seen, 0);
        int[] fill = new int[numExperts];
        for (int t = 0; t < tokens; t++) {
            for (int k = 0; k < topk; k++) {
                int e = idx[t * topk + k];
                if (e >= 0 && seen[e] != t + 1) {
                    seen[e] = t + 1;
                    out[e][fill[e]++] = t;
                }
            }
        }
        return out;
    }

    /** {@code value} rounded up to a multiple of {@code alignment} (an int, or an ArithmeticException). */
    public static int alignUp(int value, int alignment) {
        return Math.toIntExact(((long) value + alignment - 1) / alignment * alignment);
    }

    /** Copies rows {@code toks[from..to)} of {@code src} to consecutive rows of {@code dst} from {@code dstRow}, coalescing runs. */
    public static void copyRows(MemorySegment src, long rowBytes, int[] toks, int from, int to, MemorySegment dst, long dstRow) {
        if (rowBytes == 0) {
            return;
        }
        int n = from;
        while (n < to) {
            int start = n;
            n++;
            while (n < to && toks[n] == toks[n - 1] + 1) {
                n++;
            }
            MemorySegment.copy(src, toks[start] * rowBytes, dst, (dstRow + start - from) * rowBytes, (n - start) * rowBytes);
        }
    }

    /** The values of an int32 host tensor. */
    public static int[] readInts(Tensor t) {
        int n = Math.toIntExact(t.numel());
        int[] out = new int[n];
        MemorySegment.copy(t.segment(), INT, 0, out, 0, n);
        return out;
    }

    /** The values of a float32 host tensor. */
    public static float[] readFloats(Tensor t) {
        int n = Math.toIntExact(t.numel());
        float[] out = new float[n];
        MemorySegment.copy(t.segment(), FLOAT, 0, out, 0, n);
        return out;
    }

    /** Writes {@code values} at the start of an int32 host tensor. */
    public static void writeInts(int[] values, Tensor t) {
        MemorySegment.copy(values, 0, t.segment(), INT, 0, values.length);
    }

    /** Writes {@code values} at the start of a float32 host tensor. */
    public static void writeFloats(float[] values, Tensor t) {
        MemorySegment.copy(values, 0, t.segment(), FLOAT, 0, values.length);
    }

    /** Writes int indices into an int32 or int64 tensor. */
    public static void writeIndices(int[] values, Tensor t) {
        if (t.dtype() == DType.INT64) {
            long[] wide = new long[values.length];
            for (int i = 0; i < values.length; i++) {
                wide[i] = values[i];
            }
            MemorySegment.copy(wide, 0, t.segment(), LONG, 0, wide.length);
        } else {
            writeInts(values, t);
        }
    }
}
