package ep4j.cli.soak;

import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DispatchArgs;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpGroup;
import ep4j.Tensor;
import java.util.List;

/**
 * One rank's part of a normal step (layout, dispatch, a cached dispatch for {@code CACHED},
 * combine), recording every result. Inputs are uploaded to the rank's device and closed, results
 * closed, before it returns: a step leaves nothing behind.
 */
final class NormalStep extends RankStep {
    NormalStep(EpGroup group, EpBuffer buf, int rank, SoakCase c, SoakInputs in) {
        super(group, buf, rank, c, in);
    }

    @Override
    List<StepOutputs.Output> run() {
        Tensor hostX = in.x(rank, 0);
        try (Tensor x = up(hostX);
             Tensor idx = up(in.topkIdx(rank));
             Tensor w = c.weights() ? up(in.topkWeights(rank)) : null;
             DispatchLayout layout = buf.layout(idx, c.experts())) {
            out.add("layout tokensPerRank", layout.tokensPerRank());
            out.add("layout tokensPerExpert", layout.tokensPerExpert());
            out.add("layout isTokenInRank", layout.isTokenInRank());
            Tensor[] fp8 = c.fp8() == null ? null : in.fp8(hostX);
            try (Tensor q = fp8 == null ? null : up(fp8[0]);
                 Tensor s = fp8 == null ? null : up(fp8[1])) {
                DispatchArgs args = (q == null ? DispatchArgs.of(x) : DispatchArgs.fp8(q, s)).topk(idx, w).layout(layout)
                        .expertAlignment(c.alignment()).async(c.async());
                if (c.worstSized()) {
                    args.numWorstTokens(c.numWorstTokens());
                }
                try (Dispatched d = buf.dispatch(args)) {
                    d.event().await();
                    if (c.keep()) {
                        d.keep();
                    }
                    long valid = recordDispatch("dispatch", d);
                    if (c.kind() == SoakCase.Kind.CACHED) {
                        cachedDispatch(d.handle());
                    }
                    combine(d, valid);
                }
            }
        }
        return out.outputs();
    }

    /** Records a dispatch's results; returns its received row count. */
    private long recordDispatch(String name, Dispatched d) {
        DispatchHandle h = d.handle();
        out.add(name + " handle sourceRankOffsets", h.sourceRankOffsets());
        int[] offsets;
        try (Tensor o = group.download(h.sourceRankOffsets())) {
            offsets = o.toIntArray();
        }
        long valid = offsets[offsets.length - 1];
        out.add(name + " handle isTokenInRank", h.isTokenInRank());
        out.add(name + " handle sendRow", h.sendRow());
        out.add(name + " handle sourceToken", h.sourceToken());
        out.add(name + " tokensPerExpert", d.tokensPerExpert());
        if (!c.worstSized()) {
            out.add(name + " tokensPerExpertList", d.tokensPerExpertList());
        }
        out.add(name + " x", d.x(), valid);
        if (d.scales() != null) {
            out.add(name + " scales", d.scales(), valid);
        }
        if (d.topkIdx() != null) {
            out.add(name + " topkIdx", d.topkIdx());
        }
        if (d.topkWeights() != null) {
            out.add(name + " topkWeights", d.topkWeights(), valid);
        }
        return valid;
    }

    /** Other tokens along the same routing (the backward pass of combine). */
    private void cachedDispatch(DispatchHandle handle) {
        Tensor hostX = in.x(rank, 1);
        Tensor[] fp8 = c.fp8() == null ? null : in.fp8(hostX);
        try (Tensor x = up(fp8 == null ? hostX : fp8[0]);
             Tensor s = fp8 == null ? null : up(fp8[1])) {
            DispatchArgs args = (s == null ? DispatchArgs.of(x) : DispatchArgs.fp8(x, s)).cached(handle).async(c.async());
            try (Dispatched d = buf.dispatch(args)) {
                d.event().await();
                long valid = handle.numRows();
                out.add("cached dispatch x", d.x(), valid);
                if (d.scales() != null) {
                    out.add("cached dispatch scales", d.scales(), valid);
                }
            }
        }
    }

    private void combine(Dispatched d, long valid) {
        boolean view = c.viewAsExpertOutput() && c.fp8() == null;
        try (Tensor y = view ? null : up(in.expertOutput(rank, d.numRows()));
             Tensor b0 = c.biases() > 0 ? up(in.bias(rank, 0)) : null;
             Tensor b1 = c.biases() > 1 ? up(in.bias(rank, 1)) : null) {
            CombineArgs args = CombineArgs.of(view ? d.x() : y, d.handle()).bias(b0, b1).async(c.async());
            if (c.combineWeights() && d.topkWeights() != null) {
                args.topkWeights(d.topkWeights());
            }
            try (Combined cb = buf.combine(args)) {
                cb.event().await();
                out.add("combine x", cb.x());
                if (cb.topkWeights() != null) {
                    out.add("combine topkWeights", cb.topkWeights());
                }
            }
        }
    }
}
