package ep4j.cpu.lowlatency;

import ep4j.cpu.kernel.Routing;
import java.lang.foreign.MemorySegment;

/**
 * The tokens a rank sends to every expert in a low-latency dispatch, as bytes in its send slot
 * (peers read them there): {@code start[E + 1]} then the tokens of expert 0, 1, ... in ascending
 * order, all int32.
 */
final class ExpertTokens {
    private final MemorySegment seg;
    private final int experts;

    ExpertTokens(MemorySegment seg, int experts) {
        this.seg = seg;
        this.experts = experts;
    }

    /** The bytes of {@code experts} experts' lists holding {@code entries} tokens at most. */
    static long bytes(int experts, long entries) {
        return 4L * (experts + 1) + 4L * entries;
    }

    /** Writes {@code tokensOfExpert} into {@code seg}. */
    static void write(MemorySegment seg, int[][] tokensOfExpert) {
        int experts = tokensOfExpert.length;
        long base = 4L * (experts + 1);
        int at = 0;
        for (int e = 0; e < experts; e++) {
            seg.set(Routing.INT, 4L * e, at);
            int[] toks = tokensOfExpert[e];
            MemorySegment.copy(toks, 0, seg, Routing.INT, base + 4L * at, toks.length);
            at += toks.length;
        }
        seg.set(Routing.INT, 4L * experts, at);
    }

    private int start(int e) {
        return seg.get(Routing.INT, 4L * e);
    }

    /** How many tokens go to expert {@code e}. */
    int count(int e) {
        return start(e + 1) - start(e);
    }

    /** The tokens that go to expert {@code e}, ascending. */
    int[] tokens(int e) {
        int from = start(e);
        int[] out = new int[start(e + 1) - from];
        MemorySegment.copy(seg, Routing.INT, 4L * (experts + 1) + 4L * from, out, 0, out.length);
        return out;
    }
}
