package ep4j.cpu.lowlatency;

import ep4j.DType;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.Tensor;
import ep4j.cpu.control.RankRuntime;
import org.jspecify.annotations.Nullable;

/**
 * The low-latency calls of one CPU rank (DESIGN 2.4, 2.5): dispatch and combine over the rank's
 * two low-latency slots, which consecutive dispatches alternate. Every call was validated by the
 * buffer; the memory is allocated at the first call.
 *
 * <p>Where the design leaves a choice: a dispatch's results and hook go stale after two more
 * low-latency dispatches; a combine's hook goes stale when a later combine uses the same slot; a
 * combine needs its dispatch received on this rank and takes the topk of that dispatch (checked).
 */
public final class LowLatencyPath implements AutoCloseable {
    private final RankRuntime rt;
    private final LowLatencyDispatch dispatch;
    private final LowLatencyCombine combine;
    private @Nullable LowLatencyMemory memory;

    /**
     * The low-latency path of a rank.
     *
     * @param rt the rank's runtime
     */
    public LowLatencyPath(RankRuntime rt) {
        this.rt = rt;
        this.dispatch = new LowLatencyDispatch(rt, this::memory);
        this.combine = new LowLatencyCombine(rt, this::memory, dispatch);
    }

    private LowLatencyMemory memory() {
        if (memory == null) {
            memory = new LowLatencyMemory(rt);
        }
        return memory;
    }

    /**
     * A validated low-latency dispatch.
     *
     * @param a the arguments
     * @return views of the call's slot
     */
    public LowLatencyDispatched dispatch(LowLatencyDispatchArgs a) {
        return dispatch.dispatch(a);
    }

    /**
     * A validated low-latency combine.
     *
     * @param a the arguments
     * @return the combined tokens
     */
    public LowLatencyCombined combine(LowLatencyCombineArgs a) {
        return combine.combine(a);
    }

    /**
     * Where the expert outputs of {@code handle}'s dispatch may be written in place.
     *
     * @param handle a handle, checked here
     * @return {@code [L, R*N, H]} bf16, a view of the slot's combine input
     */
    public Tensor combineInput(LowLatencyHandle handle) {
        checkHandle(handle);
        LowLatencyMemory m = memory();
        return Tensor.ofHost(m.combineIn(handle.slot()), DType.BF16, m.local, m.capacity, m.hidden);
    }

    private void checkHandle(LowLatencyHandle handle) {
        if (!rt.spec.hasLowLatency()) {
            throw new InvalidArgumentException("BufferSpec.lowLatency", "not set",
                    "a buffer made with BufferSpec...lowLatency(maxTokensPerRank, numExperts)");
        }
        if (handle == null || !handle.belongsTo(rt.owner)) {
            throw new InvalidArgumentException("handle", handle == null ? null : "a handle of another buffer",
                    "a LowLatencyHandle made by this buffer");
        }
        if (!handle.isValid()) {
            throw new InvalidArgumentException("handle", "stale (generation " + handle.generation() + ")",
                    "a handle of one of the last two low-latency dispatches");
        }
    }

    /**
     * Waits (bounded) until peers in other processes have read what this rank's low-latency calls
     * published for them; see {@link ep4j.cpu.control.Exchange#lingerForReaders}. Before close.
     */
    public void awaitReaders() {
        if (memory != null) {
            rt.exchange.lingerForReaders(dispatch.lastGeneration(),
                    new long[] {combine.lastCall(0), combine.lastCall(1)});
        }
    }

    @Override
    public void close() {
        if (memory != null) {
            memory.close();
        }
    }
}
