package ep4j.cpu.normal;

import ep4j.DType;
import ep4j.DispatchLayout;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import ep4j.check.Checks;
import ep4j.cpu.control.RankRuntime;
import ep4j.cpu.kernel.Routing;
import ep4j.spi.Results;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The dispatch layout of DESIGN 2.1 on one rank, and the reading of a layout a dispatch was
 * given: its tensors as host arrays, and, when the dispatch also has its topk, the check that the
 * layout is the one of that topk.
 */
final class Layouts {
    private final RankRuntime rt;

    Layouts(RankRuntime rt) {
        this.rt = rt;
    }

    /** The layout of {@code topkIdx} (validated), in tensors of the rank's pool. */
    DispatchLayout layout(Tensor topkIdx, int numExperts) {
        int tokens = (int) topkIdx.dim(0);
        int topk = (int) topkIdx.dim(1);
        int[] idx = Routing.readTopk("topkIdx", topkIdx, numExperts);
        Routing.Layout l = Routing.layout(idx, tokens, topk, rt.ranks, numExperts);
        Tensor perRank = rt.pool.tensor(DType.INT32, rt.ranks);
        Tensor perExpert = rt.pool.tensor(DType.INT32, numExperts);
        Tensor inRank = rt.pool.tensor(DType.UINT8, tokens, rt.ranks);
        Routing.writeInts(l.tokensPerRank(), perRank);
        Routing.writeInts(l.tokensPerExpert(), perExpert);
        MemorySegment.copy(l.isTokenInRank(), 0, inRank.segment(), ValueLayout.JAVA_BYTE, 0, l.isTokenInRank().length);
        return Results.layout(numExperts, tokens, perRank, perExpert, inRank);
    }

    /** {@code layout.isTokenInRank} as {@code [T * R]} bytes, after checking its type and shape. */
    byte[] isTokenInRank(DispatchLayout layout, int tokens) {
        Tensor t = layout.isTokenInRank();
        Checks.dtype("layout.isTokenInRank", t, DType.UINT8);
        Checks.shape("layout.isTokenInRank", t, tokens, rt.ranks);
        return t.toByteArray();
    }

    /** A count tensor of the layout ({@code [n]} int32 on the host) as ints. */
    static int[] counts(String name, Tensor t, int n) {
        Checks.dtype(name, t, DType.INT32);
        Checks.shape(name, t, n);
        Checks.device(name, t, Tensor.HOST);
        return Routing.readInts(t);
    }

    /**
     * Checks that {@code layout} (whose isTokenInRank and tokensPerExpert were read already) is
     * the layout of {@code idx}: the first entry that differs is an
     * {@link InvalidArgumentException} naming it.
     */
    void checkMatches(DispatchLayout layout, int[] idx, int tokens, int topk, byte[] inRank, int[] perExpert) {
        int ranks = rt.ranks;
        int numExperts = layout.numExperts();
        Routing.Layout want = Routing.layout(idx, tokens, topk, ranks, numExperts);
        String hint = ", as computed from topkIdx (use layout(topkIdx, " + numExperts + ") of the same topkIdx)";
        for (int i = 0; i < inRank.length; i++) {
            if ((inRank[i] != 0) != (want.isTokenInRank()[i] != 0)) {
                throw new InvalidArgumentException("layout.isTokenInRank[" + (i / ranks) + "][" + (i % ranks) + "]",
                        inRank[i], want.isTokenInRank()[i] + hint);
            }
        }
        for (int e = 0; e < numExperts; e++) {
            if (perExpert[e] != want.tokensPerExpert()[e]) {
                throw new InvalidArgumentException("layout.tokensPerExpert[" + e + "]", perExpert[e],
                        want.tokensPerExpert()[e] + hint);
            }
        }
        int[] perRank = counts("layout.tokensPerRank", layout.tokensPerRank(), ranks);
        for (int j = 0; j < ranks; j++) {
            if (perRank[j] != want.tokensPerRank()[j]) {
                throw new InvalidArgumentException("layout.tokensPerRank[" + j + "]", perRank[j],
                        want.tokensPerRank()[j] + hint);
            }
        }
    }
}
