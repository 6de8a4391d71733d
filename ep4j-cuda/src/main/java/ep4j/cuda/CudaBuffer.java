package ep4j.cuda;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpGraph;
import ep4j.InvalidArgumentException;
import ep4j.KernelTiming;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.Tensor;
import ep4j.check.RequestValidator;
import ep4j.cuda.control.KernelTimer;
import ep4j.cuda.control.RankRuntime;
import ep4j.cuda.kernel.KernelConstants;
import ep4j.cuda.lowlatency.LowLatencyPath;
import ep4j.cuda.normal.NormalPath;
import java.util.Optional;

/**
 * One rank's buffer on its GPU: validates every call and hands it to the path that runs it
 * ({@link NormalPath}, {@link LowLatencyPath}) over the rank's {@link RankRuntime} (stream, call
 * records, symmetric heaps). Calls are made from the rank's thread.
 */
final class CudaBuffer implements EpBuffer {
    private final RankRuntime rt;
    private final RequestValidator validator;
    private final KernelTimer timer;
    private final NormalPath normal;
    private final LowLatencyPath lowLatency;

    /** Takes ownership of {@code rt}. */
    CudaBuffer(RankRuntime rt, int lowLatencyBlocks) {
        this.rt = rt;
        this.validator = new RequestValidator(this, rt.ranks, rt.context.device().ordinal(), rt.spec);
        this.timer = new KernelTimer(rt.context, rt.stream);
        this.normal = new NormalPath(rt, this, timer);
        this.lowLatency = rt.spec.hasLowLatency() ? new LowLatencyPath(rt, this, lowLatencyBlocks) : null;
    }

    RankRuntime runtime() {
        return rt;
    }

    @Override
    public int rank() {
        return rt.rank;
    }

    @Override
    public int ranks() {
        return rt.ranks;
    }

    @Override
    public BufferSpec spec() {
        return rt.spec;
    }

    @Override
    public int device() {
        return rt.context.device().ordinal();
    }

    @Override
    public long nativeStream() {
        return rt.stream.address();
    }

    @Override
    public Optional<KernelTiming> kernelTiming() {
        return Optional.of(timer);
    }

    private void checkExperts(int numExperts) {
        if (numExperts > KernelConstants.MAX_EXPERTS) {
            throw new InvalidArgumentException("numExperts", numExperts,
                    "at most " + KernelConstants.MAX_EXPERTS + " on the GPU backend");
        }
    }

    private void begin() {
        rt.ensureUsable();
        rt.context.makeCurrent();
    }

    @Override
    public DispatchLayout layout(Tensor topkIdx, int numExperts) {
        rt.ensureUsable();
        validator.layout(topkIdx, numExperts);
        checkExperts(numExperts);
        begin();
        return normal.layout(topkIdx, numExperts);
    }

    @Override
    public Dispatched dispatch(DispatchArgs a) {
        rt.ensureUsable();
        validator.dispatch(a);
        if (a.cachedHandle() == null) {
            checkExperts(a.layout().numExperts());
        }
        begin();
        rt.awaitPrevious(a.previous());
        return normal.dispatch(a);
    }

    @Override
    public Combined combine(CombineArgs a) {
        rt.ensureUsable();
        validator.combine(a);
        begin();
        rt.awaitPrevious(a.previous());
        return normal.combine(a);
    }

    private LowLatencyPath lowLatency() {
        if (lowLatency == null) {
            throw new InvalidArgumentException("BufferSpec.lowLatency", "not set",
                    "a buffer made with BufferSpec...lowLatency(maxTokensPerRank, numExperts)");
        }
        return lowLatency;
    }

    @Override
    public LowLatencyDispatched lowLatencyDispatch(LowLatencyDispatchArgs args) {
        rt.ensureUsable();
        int localExperts = validator.lowLatencyDispatch(args);
        begin();
        return lowLatency().dispatch(args, localExperts);
    }

    @Override
    public LowLatencyCombined lowLatencyCombine(LowLatencyCombineArgs args) {
        rt.ensureUsable();
        validator.lowLatencyCombine(args);
        begin();
        return lowLatency().combine(args);
    }

    @Override
    public Tensor lowLatencyCombineInput(LowLatencyHandle handle) {
        begin();
        return lowLatency().combineInput(handle);
    }

    @Override
    public EpGraph captureGraph(Runnable calls) {
        return CapturedGraph.capture(rt, calls);
    }

    /** Ends this rank's device waits at once (EpGroup.abort). */
    void abort(String why) {
        if (!rt.isClosed()) {
            rt.abort(why);
        }
    }

    @Override
    public boolean isClosed() {
        return rt.isClosed();
    }

    @Override
    public synchronized void close() {
        if (rt.isClosed()) {
            return;
        }
        try {
            rt.close();
        } finally {
            timer.close();
            normal.close();
            if (lowLatency != null) {
                lowLatency.close();
            }
        }
    }
}
