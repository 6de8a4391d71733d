package ep4j.cpu.normal;

import ep4j.cpu.kernel.Routing;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.jspecify.annotations.Nullable;

/**
 * What a rank sends for a normal dispatch, as bytes in its normal region (peers, in this JVM or
 * another process, read it there): a header, the routing (where each token goes, per-expert
 * counts, top-k indices and weights) and the token rows and scales, each section 64-byte aligned.
 *
 * <pre>
 *   0   int tokens T      4  int topk K      8  int flags     12 int numExperts E
 *   16  int numWorst      20 int ranks R     24 long xRowBytes 32 long scaleRowBytes
 *   40  int token entries (the lengths of every tokensTo list, summed)
 *   64  toStart[R + 1], toTokens[entries], perExpert[E]   (routing)
 *       idx[T * K]                                        (top-k)
 *       weights[T * K] float                              (weights)
 *       x[T * xRowBytes], scales[T * scaleRowBytes]
 * </pre>
 */
final class DispatchWire {
    private static final int ROUTING = 1;
    private static final int IDX = 2;
    private static final int WEIGHTS = 4;
    private static final int SCALES = 8;
    private static final long HEADER = 64;

    private DispatchWire() {
    }

    /**
     * A dispatch as one rank sends it; the routing fields are null for a cached dispatch. Read
     * back, {@code x} and {@code scales} are slices of the sender's region.
     */
    record Post(int tokens, MemorySegment x, long xRowBytes, @Nullable MemorySegment scales, long scaleRowBytes,
            int @Nullable [][] tokensTo, int @Nullable [] idx, float @Nullable [] weights, int topk,
            int @Nullable [] perExpert, int numWorst) {
    }

    /** The sections' offsets of a post, from its header values. */
    private record Layout(long toStart, long toTokens, long perExpert, long idx, long weights, long x, long scales,
            long end) {
        static Layout of(int tokens, int topk, int flags, int experts, int ranks, long xRowBytes, long scaleRowBytes,
                int entries) {
            boolean routing = (flags & ROUTING) != 0;
            long toStart = HEADER;
            long toTokens = align(toStart + (routing ? 4L * (ranks + 1) : 0));
            long perExpert = align(toTokens + (routing ? 4L * entries : 0));
            long idx = align(perExpert + (routing ? 4L * experts : 0));
            long weights = align(idx + ((flags & IDX) != 0 ? 4L * tokens * topk : 0));
            long x = align(weights + ((flags & WEIGHTS) != 0 ? 4L * tokens * topk : 0));
            long scales = align(x + tokens * xRowBytes);
            long end = align(scales + ((flags & SCALES) != 0 ? tokens * scaleRowBytes : 0));
            return new Layout(toStart, toTokens, perExpert, idx, weights, x, scales, end);
        }
    }

    private static long align(long v) {
        return (v + 63) & ~63L;
    }

    private static int flags(Post p) {
        return (p.tokensTo() != null ? ROUTING : 0) | (p.idx() != null ? IDX : 0) | (p.weights() != null ? WEIGHTS : 0)
                | (p.scales() != null ? SCALES : 0);
    }

    private static int entries(Post p) {
        int n = 0;
        if (p.tokensTo() != null) {
            for (int[] t : p.tokensTo()) {
                n += t.length;
            }
        }
        return n;
    }

    private static Layout layout(Post p, int ranks) {
        return Layout.of(p.tokens(), p.topk(), flags(p), p.perExpert() == null ? 0 : p.perExpert().length, ranks,
                p.xRowBytes(), p.scaleRowBytes(), entries(p));
    }

    /** The bytes {@code p} takes in a region. */
    static long bytes(Post p, int ranks) {
        return layout(p, ranks).end();
    }

    /** Writes {@code p} at the start of {@code region} (at least {@link #bytes} large). */
    static void write(MemorySegment region, Post p, int ranks) {
        int flags = flags(p);
        int entries = entries(p);
        int experts = p.perExpert() == null ? 0 : p.perExpert().length;
        Layout l = layout(p, ranks);
        region.set(ValueLayout.JAVA_INT, 0, p.tokens());
        region.set(ValueLayout.JAVA_INT, 4, p.topk());
        region.set(ValueLayout.JAVA_INT, 8, flags);
        region.set(ValueLayout.JAVA_INT, 12, experts);
        region.set(ValueLayout.JAVA_INT, 16, p.numWorst());
        region.set(ValueLayout.JAVA_INT, 20, ranks);
        region.set(ValueLayout.JAVA_LONG, 24, p.xRowBytes());
        region.set(ValueLayout.JAVA_LONG, 32, p.scaleRowBytes());
        region.set(ValueLayout.JAVA_INT, 40, entries);
        if (p.tokensTo() != null) {
            int at = 0;
            for (int j = 0; j < ranks; j++) {
                int[] toks = p.tokensTo()[j];
                region.set(ValueLayout.JAVA_INT, l.toStart() + 4L * j, at);
                MemorySegment.copy(toks, 0, region, Routing.INT, l.toTokens() + 4L * at, toks.length);
                at += toks.length;
            }
            region.set(ValueLayout.JAVA_INT, l.toStart() + 4L * ranks, at);
            MemorySegment.copy(p.perExpert(), 0, region, Routing.INT, l.perExpert(), experts);
        }
        if (p.idx() != null) {
            MemorySegment.copy(p.idx(), 0, region, Routing.INT, l.idx(), p.idx().length);
        }
        if (p.weights() != null) {
            MemorySegment.copy(p.weights(), 0, region, Routing.FLOAT, l.weights(), p.weights().length);
        }
        MemorySegment.copy(p.x(), 0, region, l.x(), p.tokens() * p.xRowBytes());
        if (p.scales() != null) {
            MemorySegment.copy(p.scales(), 0, region, l.scales(), p.tokens() * p.scaleRowBytes());
        }
    }

    /** The post at the start of {@code region}; its rows and scales stay in the region. */
    static Post read(MemorySegment region) {
        int tokens = region.get(ValueLayout.JAVA_INT, 0);
        int topk = region.get(ValueLayout.JAVA_INT, 4);
        int flags = region.get(ValueLayout.JAVA_INT, 8);
        int experts = region.get(ValueLayout.JAVA_INT, 12);
        int numWorst = region.get(ValueLayout.JAVA_INT, 16);
        int ranks = region.get(ValueLayout.JAVA_INT, 20);
        long xRowBytes = region.get(ValueLayout.JAVA_LONG, 24);
        long scaleRowBytes = region.get(ValueLayout.JAVA_LONG, 32);
        int entries = region.get(ValueLayout.JAVA_INT, 40);
        Layout l = Layout.of(tokens, topk, flags, experts, ranks, xRowBytes, scaleRowBytes, entries);
        int[][] tokensTo = null;
        int[] perExpert = null;
        if ((flags & ROUTING) != 0) {
            int[] start = new int[ranks + 1];
            MemorySegment.copy(region, Routing.INT, l.toStart(), start, 0, ranks + 1);
            tokensTo = new int[ranks][];
            for (int j = 0; j < ranks; j++) {
                tokensTo[j] = new int[start[j + 1] - start[j]];
                MemorySegment.copy(region, Routing.INT, l.toTokens() + 4L * start[j], tokensTo[j], 0, tokensTo[j].length);
            }
            perExpert = new int[experts];
            MemorySegment.copy(region, Routing.INT, l.perExpert(), perExpert, 0, experts);
        }
        int[] idx = null;
        if ((flags & IDX) != 0) {
            idx = new int[tokens * topk];
            MemorySegment.copy(region, Routing.INT, l.idx(), idx, 0, idx.length);
        }
        float[] weights = null;
        if ((flags & WEIGHTS) != 0) {
            weights = new float[tokens * topk];
            MemorySegment.copy(region, Routing.FLOAT, l.weights(), weights, 0, weights.length);
        }
        MemorySegment x = region.asSlice(l.x(), tokens * xRowBytes);
        MemorySegment scales = (flags & SCALES) != 0 ? region.asSlice(l.scales(), tokens * scaleRowBytes) : null;
        return new Post(tokens, x, xRowBytes, scales, scaleRowBytes, tokensTo, idx, weights, topk, perExpert, numWorst);
    }
}
