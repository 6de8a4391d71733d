package ep4j.cli.soak;

import ep4j.DType;
import ep4j.EpBuffer;
import ep4j.EpGroup;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One rank's part of a low-latency step: dispatch (bf16 or fp8, with or without a receive hook,
 * synchronous or async) and combine (zero-copy where the buffer is host memory, into the
 * caller's tensor or a new one), recording every defined result. The results are views valid
 * for two low-latency calls, so each is read before the next call.
 */
final class LowLatencyStep extends RankStep {
    LowLatencyStep(EpGroup group, EpBuffer buf, int rank, SoakCase c, SoakInputs in) {
        super(group, buf, rank, c, in);
    }

    @Override
    List<StepOutputs.Output> run() {
        boolean async = c.async() && !c.hook();
        try (Tensor x = up(in.x(rank, 0));
             Tensor idx = up(in.topkIdx(rank));
             Tensor w = up(in.topkWeights(rank))) {
            LowLatencyDispatchArgs args = LowLatencyDispatchArgs.of(x, idx, c.experts()).returnRecvHook(c.hook()).async(async);
            if (c.fp8() != null) {
                args.fp8(c.fp8().powerOfTwoScale(), c.fp8().packedExponents());
            }
            try (LowLatencyDispatched d = buf.lowLatencyDispatch(args)) {
                if (c.hook()) {
                    d.hook().receive().await();
                } else {
                    d.event().await();
                }
                recordDispatch(d);
                combine(d.handle(), idx, w);
            }
        }
        return out.outputs();
    }

    private void recordDispatch(LowLatencyDispatched d) {
        out.add("low-latency recvCount", d.recvCount());
        int[] counts;
        try (Tensor t = group.download(d.recvCount())) {
            counts = t.toIntArray();
        }
        out.add("low-latency handle ranges", d.handle().ranges());
        try (Tensor x = group.download(d.x());
             Tensor s = d.scales() == null ? null : group.download(d.scales());
             Tensor src = group.download(d.handle().sourceToken())) {
            for (int l = 0; l < counts.length; l++) {
                out.add("low-latency x[expert " + l + "]", slice(x, l), counts[l]);
                if (s != null) {
                    out.add("low-latency scales[expert " + l + "]", slice(s, l), counts[l]);
                }
                out.add("low-latency handle sourceToken[expert " + l + "]", slice(src, l), counts[l]);
            }
        }
    }

    /** Block {@code l} of a host tensor {@code [L, rows, ...]}, as a view. */
    private static Tensor slice(Tensor t, int l) {
        long[] shape = t.shape();
        long[] rest = java.util.Arrays.copyOfRange(shape, 1, shape.length);
        long bytes = t.rowBytes();
        MemorySegment seg = t.segment().asSlice(l * bytes, bytes);
        return Tensor.ofHost(seg, t.dtype(), rest);
    }

    private void combine(LowLatencyHandle handle, Tensor idx, Tensor w) {
        boolean async = c.async() && !c.hook();
        Tensor hostY = in.lowLatencyExpertOutput(rank);
        Tensor y;
        boolean zeroCopy = c.zeroCopy() && buf.device() == Tensor.HOST;
        if (zeroCopy) {
            y = buf.lowLatencyCombineInput(handle);
            MemorySegment.copy(hostY.segment(), 0, y.segment(), 0, hostY.byteSize());
        } else {
            y = up(hostY);
        }
        try (Tensor owned = zeroCopy ? null : y;
             Tensor target = c.callerOut() ? group.allocate(rank, DType.BF16, handle.numTokens(), handle.hidden()) : null) {
            LowLatencyCombineArgs args = LowLatencyCombineArgs.of(y, idx, w, handle).returnRecvHook(c.hook()).async(async)
                    .zeroCopy(zeroCopy).out(target);
            try (LowLatencyCombined cb = buf.lowLatencyCombine(args)) {
                if (c.hook()) {
                    cb.hook().receive().await();
                } else {
                    cb.event().await();
                }
                out.add("low-latency combine x", cb.x());
            }
        }
    }
}
