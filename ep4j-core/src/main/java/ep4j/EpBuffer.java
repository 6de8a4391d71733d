package ep4j;

import java.util.Optional;

/**
 * One rank's communication buffer, made by {@link EpGroup#allocate(BufferSpec)} and sized by
 * its {@link BufferSpec}.
 *
 * <p><b>Collective calls.</b> Every call except {@link #layout} and
 * {@link #lowLatencyCombineInput} is collective: all ranks of the group make the same calls on
 * their buffers, in the same order (each from its own thread or process), as in DeepEP. A rank
 * that makes a different call under the same number (dispatch here, combine there; fp8 here,
 * bf16 there; handles of different dispatches) gets an {@link EpException} "collective mismatch",
 * as do the ranks involved, never a wrong result. Calls on one buffer are made from one thread
 * at a time.
 *
 * <p><b>Errors.</b> A bad call is rejected with an {@link InvalidArgumentException} (naming the
 * argument, the value and what was expected) before anything changes; the buffer stays usable. A
 * peer that does not take part within the buffer's timeout makes the call fail with
 * {@link EpTimeoutException}; {@link EpGroup#abort} makes it fail at once. Using a closed buffer
 * is an {@link IllegalStateException}.
 *
 * <p><b>Ownership.</b> Results own their memory (see each result type); close them when done.
 * Closing the buffer frees it and every result it still owns.
 */
public interface EpBuffer extends AutoCloseable {
    /**
     * This buffer's rank in the group.
     *
     * @return 0 to {@code ranks() - 1}
     */
    int rank();

    /**
     * The group size.
     *
     * @return {@code R}
     */
    int ranks();

    /**
     * What the buffer was sized for.
     *
     * @return the concluded spec
     */
    BufferSpec spec();

    /**
     * Where this rank's tensors must live.
     *
     * @return {@link Tensor#HOST} (CPU backend) or the rank's GPU index
     */
    int device();

    /**
     * The native stream every call of this rank runs on, for callers who launch their own
     * kernels in order with them (and for graph capture). The backend owns it.
     *
     * @return the {@code CUstream} handle on a GPU; 0 on the CPU backend
     */
    default long nativeStream() {
        return 0;
    }

    /**
     * Captures the calls {@code calls} makes on this rank (and the kernels the caller launches on
     * {@link #nativeStream()} meanwhile) into a graph that {@link EpGraph#replay()} runs again.
     * Inside the capture, calls do not wait: they behave as {@code async(true)}, and a normal
     * dispatch must use {@link DispatchArgs#numWorstTokens} (its size cannot come back to the
     * host). Collective like the calls it captures: every rank captures the same sequence. The
     * results the captured calls return are the ones every replay refills.
     *
     * <p>The default runs {@code calls} again at each replay, which gives the same results on a
     * backend without device graphs (the CPU backend).
     *
     * @param calls makes the calls to capture, on this rank's thread
     * @return the graph, owned by the caller
     * @throws IllegalStateException when the buffer was closed
     */
    default EpGraph captureGraph(Runnable calls) {
        calls.run();
        return new EpGraph() {
            private volatile boolean closed;

            @Override
            public EpEvent replay() {
                if (closed) {
                    throw new IllegalStateException("EpGraph was closed");
                }
                calls.run();
                return EpEvent.completed();
            }

            @Override
            public void close() {
                closed = true;
            }
        };
    }

    /**
     * Where each token goes (DESIGN 2.1): per-rank and per-expert token counts of a routing. Not
     * collective: only this rank computes. A token that lists one expert in several slots counts
     * once for it.
     *
     * @param topkIdx    {@code [T, K]} int64 or int32 on this rank's device, values in
     *                   {@code [-1, E)} (checked where they live: on the host before, on a GPU by
     *                   the kernel, raised when the call completes)
     * @param numExperts {@code E}, a positive multiple of the group size
     * @return the layout, owned by the caller (close it when done)
     * @throws InvalidArgumentException for a bad argument; nothing changed
     * @throws IllegalStateException    when the buffer was closed
     */
    DispatchLayout layout(Tensor topkIdx, int numExperts);

    /**
     * Normal dispatch (DESIGN 2.2): every token goes once to every rank that holds one of its
     * experts; each rank receives rows ordered by source rank, then source token.
     *
     * @param args the tokens and their routing
     * @return what this rank received, owned by the caller (close it when done; its handle is
     *         closed with it)
     * @throws InvalidArgumentException for a bad argument (every rank gets the same one when the
     *                                  problem is collective, such as a too small
     *                                  {@link DispatchArgs#numWorstTokens}); nothing changed
     * @throws EpTimeoutException       when a peer did not take part in time
     * @throws EpException              on a collective mismatch, an aborted group, or a device error
     * @throws AllocationException      when the outputs cannot be allocated
     * @throws IllegalStateException    when the buffer was closed
     */
    Dispatched dispatch(DispatchArgs args);

    /**
     * Normal combine (DESIGN 2.3): each token's rows come back to its home rank and are summed in
     * float32 in ascending rank order after the biases, rounded once to bf16. The top-k weights
     * are <b>not</b> applied (the expert computation applies them). Tokens sent nowhere come back
     * as zeros (plus biases).
     *
     * @param args the expert outputs and the dispatch handle
     * @return the combined tokens, owned by the caller (close it when done)
     * @throws InvalidArgumentException for a bad argument, or a handle of another buffer or a
     *                                  closed one; nothing changed
     * @throws EpTimeoutException       when a peer did not take part in time
     * @throws EpException              on a collective mismatch, an aborted group, or a device error
     * @throws AllocationException      when the output cannot be allocated
     * @throws IllegalStateException    when the buffer was closed
     */
    Combined combine(CombineArgs args);

    /**
     * Low-latency dispatch (DESIGN 2.4): expert-major output of fixed capacity in one of the
     * buffer's two low-latency slots, which alternate between calls: the results of a call stay
     * valid until two more low-latency dispatches have run.
     *
     * @param args the tokens, their experts and the options
     * @return the views of the received rows (not owned: closing the result frees nothing)
     * @throws InvalidArgumentException for a bad argument, or a buffer without low-latency buffers
     * @throws EpTimeoutException       when a peer did not take part in time
     * @throws EpException              on a collective mismatch, an aborted group, or a device error
     * @throws IllegalStateException    when the buffer was closed
     */
    LowLatencyDispatched lowLatencyDispatch(LowLatencyDispatchArgs args);

    /**
     * Low-latency combine (DESIGN 2.5): for each token, the weighted sum of its experts' outputs,
     * fused multiply-adds in slot order, rounded once to bf16. Its hook goes stale when a later
     * low-latency combine reuses the same slot before it received.
     *
     * @param args the expert outputs, the tokens' top-k (that of the dispatch) and the handle
     * @return the combined tokens, owned by the caller unless it passed
     *         {@link LowLatencyCombineArgs#out}
     * @throws InvalidArgumentException for a bad argument: another top-k than the dispatch's, a
     *                                  stale handle or one of another buffer
     * @throws EpTimeoutException       when a peer did not take part in time
     * @throws EpException              on a collective mismatch, an aborted group, or a device error
     * @throws IllegalStateException    when the dispatch of the handle has not received on this
     *                                  rank, or the buffer was closed
     */
    LowLatencyCombined lowLatencyCombine(LowLatencyCombineArgs args);

    /**
     * Where the expert outputs of the low-latency dispatch {@code handle} may be written in place,
     * for {@link LowLatencyCombineArgs#zeroCopy}. Not collective.
     *
     * @param handle a valid handle of this buffer
     * @return {@code [L, R*N, H]} bf16, a view of the buffer (not owned)
     * @throws InvalidArgumentException for a stale handle or one of another buffer
     * @throws IllegalStateException    when the buffer was closed
     */
    Tensor lowLatencyCombineInput(LowLatencyHandle handle);

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
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

    /**
     * Frees the buffer and every result it still owns; ranks waiting for this one fail at once.
     * Twice is harmless; a call after it is an {@link IllegalStateException}.
     *
     * @throws EpException when freeing failed (the buffer is closed nonetheless)
     */
    @Override
    void close();
}
