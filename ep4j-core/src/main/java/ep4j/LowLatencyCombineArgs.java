package ep4j;

import org.jspecify.annotations.Nullable;

/**
 * Arguments of a low-latency combine ({@link EpBuffer#lowLatencyCombine}): the expert outputs
 * {@code y [L, R*N, H]} bf16 in the layout of the low-latency dispatch whose handle is given, and
 * the tokens' own top-k, which must be the top-k of that dispatch. The weights <b>are</b> applied
 * here (DESIGN 2.5). The dispatch must have received on this rank. Fluent setters; the arguments
 * are read when the call is made and not kept.
 */
public final class LowLatencyCombineArgs {
    private final Tensor y;
    private final Tensor topkIdx;
    private final Tensor topkWeights;
    private final LowLatencyHandle handle;
    private boolean returnRecvHook;
    private boolean async;
    private boolean zeroCopy;
    private @Nullable Tensor out;

    private LowLatencyCombineArgs(Tensor y, Tensor topkIdx, Tensor topkWeights, LowLatencyHandle handle) {
        this.y = y;
        this.topkIdx = topkIdx;
        this.topkWeights = topkWeights;
        this.handle = handle;
    }

    /**
     * Combines the expert outputs back to the tokens.
     *
     * @param y           {@code [L, R*N, H]} bf16: row r of local expert l is the output for the row
     *                    r of that expert in the dispatch
     * @param topkIdx     {@code [T, K]}: the top-k of the dispatch of {@code handle}
     * @param topkWeights {@code [T, K]} float32
     * @param handle      the handle of one of the buffer's last two low-latency dispatches
     * @return the arguments
     */
    public static LowLatencyCombineArgs of(Tensor y, Tensor topkIdx, Tensor topkWeights, LowLatencyHandle handle) {
        return new LowLatencyCombineArgs(y, topkIdx, topkWeights, handle);
    }

    /**
     * Only send, and return a hook that receives ({@link LowLatencyCombined#hook()}).
     *
     * @param hook true to split the call (false by default)
     * @return these arguments
     */
    public LowLatencyCombineArgs returnRecvHook(boolean hook) {
        this.returnRecvHook = hook;
        return this;
    }

    /**
     * Returns without waiting for the call (without a hook): the results are ready, in order on the
     * rank's stream, once {@code event()} of the result completes. Default false.
     *
     * @param async whether to return at once
     * @return this
     */
    public LowLatencyCombineArgs async(boolean async) {
        this.async = async;
        return this;
    }

    /**
     * Whether the call returns without waiting.
     *
     * @return the flag
     */
    public boolean async() {
        return async;
    }

    /**
     * States that {@code y} is the tensor {@link EpBuffer#lowLatencyCombineInput} returned for
     * this handle: the backend reads it in place, with no copy (checked).
     *
     * @param zeroCopy true when {@code y} is the buffer's own input tensor (false by default)
     * @return these arguments
     */
    public LowLatencyCombineArgs zeroCopy(boolean zeroCopy) {
        this.zeroCopy = zeroCopy;
        return this;
    }

    /**
     * Writes the result into this tensor instead of a new one; the result then does not own it.
     *
     * @param out {@code [T, H]} bf16 on this rank's device, or null for a new tensor (the default)
     * @return these arguments
     */
    public LowLatencyCombineArgs out(@Nullable Tensor out) {
        this.out = out;
        return this;
    }

    /**
     * The expert outputs.
     *
     * @return {@code y}
     */
    public Tensor y() {
        return y;
    }

    /**
     * The tokens' experts.
     *
     * @return the indices
     */
    public Tensor topkIdx() {
        return topkIdx;
    }

    /**
     * The tokens' weights.
     *
     * @return the weights
     */
    public Tensor topkWeights() {
        return topkWeights;
    }

    /**
     * The dispatch handle.
     *
     * @return the handle
     */
    public LowLatencyHandle handle() {
        return handle;
    }

    /**
     * Whether the call only sends.
     *
     * @return true when a hook receives
     */
    public boolean returnRecvHook() {
        return returnRecvHook;
    }

    /**
     * Whether {@code y} is read in place.
     *
     * @return true for zero copy
     */
    public boolean zeroCopy() {
        return zeroCopy;
    }

    /**
     * Where the result goes.
     *
     * @return the caller's output tensor, or null for a new one
     */
    public @Nullable Tensor out() {
        return out;
    }
}
