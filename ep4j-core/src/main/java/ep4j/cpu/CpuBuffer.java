package ep4j.cpu;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpEvent;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.Tensor;
import ep4j.check.RequestValidator;
import ep4j.cpu.control.Exchange;
import ep4j.cpu.control.RankRuntime;
import ep4j.cpu.lowlatency.LowLatencyPath;
import ep4j.cpu.normal.NormalPath;

/**
 * One rank's buffer of a {@link CpuGroup}: checks each call, runs it on the normal or the
 * low-latency path of the rank, and frees everything when closed. Calls on one rank's buffer are
 * serialized on its {@link RankRuntime} (a low-latency hook may be called from any thread and
 * takes the same monitor).
 *
 * <p>All ranks must make the same calls in the same order on a buffer; a different call under the
 * same number (dispatch here, combine there; fp8 here, bf16 there; handles of different
 * dispatches) is an {@link ep4j.EpException} "collective mismatch" on the ranks involved.
 */
final class CpuBuffer implements EpBuffer {
    private final RankRuntime rt;
    private final RequestValidator validator;
    private final NormalPath normal;
    private final LowLatencyPath lowLatency;
    /** Runs once, when this buffer is closed. */
    private final Runnable onClose;

    CpuBuffer(Exchange exchange, BufferSpec spec, Runnable onClose) {
        this.rt = new RankRuntime(this, exchange, spec);
        this.validator = new RequestValidator(this, rt.ranks, Tensor.HOST, spec);
        this.normal = new NormalPath(rt);
        this.lowLatency = new LowLatencyPath(rt);
        this.onClose = onClose;
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
        return Tensor.HOST;
    }

    @Override
    public boolean isClosed() {
        return rt.isClosed();
    }

    private static <T> T required(String name, T value) {
        if (value == null) {
            throw new InvalidArgumentException(name, null, "a value");
        }
        return value;
    }

    private static void awaitPrevious(EpEvent previous) {
        if (previous != null) {
            previous.await();
        }
    }

    @Override
    public DispatchLayout layout(Tensor topkIdx, int numExperts) {
        synchronized (rt) {
            rt.checkOpen();
            validator.layout(topkIdx, numExperts);
            return normal.layout(topkIdx, numExperts);
        }
    }

    @Override
    public Dispatched dispatch(DispatchArgs a) {
        synchronized (rt) {
            rt.checkOpen();
            required("args", a);
            awaitPrevious(a.previous());
            validator.dispatch(a);
            long before = rt.exchange.lastPosted();
            try {
                return normal.dispatch(a);
            } catch (RuntimeException | Error e) {
                failedAfter(before, e);
                throw e;
            }
        }
    }

    @Override
    public Combined combine(CombineArgs a) {
        synchronized (rt) {
            rt.checkOpen();
            required("args", a);
            awaitPrevious(a.previous());
            validator.combine(a);
            long before = rt.exchange.lastPosted();
            try {
                return normal.combine(a);
            } catch (RuntimeException | Error e) {
                failedAfter(before, e);
                throw e;
            }
        }
    }

    /**
     * A call failed: when it had posted (its number went out), its failure is marked in
     * shared memory, so that peers waiting for this rank to read their call stop waiting.
     */
    private void failedAfter(long before, Throwable e) {
        long posted = rt.exchange.lastPosted();
        if (posted > before) {
            rt.exchange.markFailed(posted, e);
        }
    }

    @Override
    public LowLatencyDispatched lowLatencyDispatch(LowLatencyDispatchArgs a) {
        synchronized (rt) {
            rt.checkOpen();
            required("args", a);
            validator.lowLatencyDispatch(a);
            long before = rt.exchange.lastPosted();
            try {
                return lowLatency.dispatch(a);
            } catch (RuntimeException | Error e) {
                failedAfter(before, e);
                throw e;
            }
        }
    }

    @Override
    public LowLatencyCombined lowLatencyCombine(LowLatencyCombineArgs a) {
        synchronized (rt) {
            rt.checkOpen();
            required("args", a);
            validator.lowLatencyCombine(a);
            long before = rt.exchange.lastPosted();
            try {
                return lowLatency.combine(a);
            } catch (RuntimeException | Error e) {
                failedAfter(before, e);
                throw e;
            }
        }
    }

    @Override
    public Tensor lowLatencyCombineInput(LowLatencyHandle handle) {
        synchronized (rt) {
            rt.checkOpen();
            return lowLatency.combineInput(handle);
        }
    }

    /** Frees every result still owned and the buffer's memory; the first failure is thrown, the others suppressed. */
    @Override
    public void close() {
        synchronized (rt) {
            if (!rt.isClosed()) {
                lowLatency.awaitReaders(); // peers in other processes may not have read this rank's last calls yet
            }
        }
        if (!rt.markClosed()) {
            return;
        }
        rt.exchange.markClosed();
        try {
            synchronized (rt) {
                rt.closeAll(normal, lowLatency, rt.exchange);
            }
        } finally {
            onClose.run();
        }
    }

    @Override
    public String toString() {
        return "CpuBuffer[rank " + rt.rank + " of " + rt.ranks + ", " + rt.spec + (isClosed() ? ", closed" : "") + "]";
    }
}
