package ep4j;

import java.util.Optional;

/**
 * One rank's communication buffer. Every call except {@link #layout} is collective: all ranks
 * of the group make the same call (each from its own thread or process), as in DeepEP. A bad
 * call is rejected with an {@link InvalidArgumentException} before anything changes; a peer
 * that does not take part within the buffer's timeout makes the call fail with
 * {@link EpTimeoutException}.
 */
public interface EpBuffer extends AutoCloseable {
    int rank();

    int ranks();

    BufferSpec spec();

    /** Where this rank's tensors live: {@link Tensor#HOST} or a GPU index. */
    int device();

    /** Per-rank and per-expert token counts of a routing (local; not collective). */
    DispatchLayout layout(Tensor topkIdx, int numExperts);

    Dispatched dispatch(DispatchArgs args);

    Combined combine(CombineArgs args);

    LowLatencyDispatched lowLatencyDispatch(LowLatencyDispatchArgs args);

    LowLatencyCombined lowLatencyCombine(LowLatencyCombineArgs args);

    /**
     * Where the expert outputs of the low-latency dispatch {@code handle} may be written in place
     * ({@code [L, R*N, H]} bf16), for {@link LowLatencyCombineArgs#zeroCopy}.
     */
    Tensor lowLatencyCombineInput(LowLatencyHandle handle);

    boolean isClosed();

    /**
     * The device time of this buffer's kernels, where the backend can measure it.
     *
     * @return the timing of this buffer (off until enabled), or empty on a backend without
     *         device kernels (the CPU backend)
     */
    default Optional<KernelTiming> kernelTiming() {
        return Optional.empty();
    }

    /** Frees the buffer and every result it still owns. Twice is harmless; a call after it is an IllegalStateException. */
    @Override
    void close();
}
