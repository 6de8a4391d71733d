package ep4j;

/**
 * Arguments of a low-latency combine: expert outputs {@code y [L, R*N, H]} bf16 in the layout
 * of the dispatch whose handle is given, and the tokens' own topk indices and weights.
 */
public final class LowLatencyCombineArgs {
    private final Tensor y;
    private final Tensor topkIdx;
    private final Tensor topkWeights;
    private final LowLatencyHandle handle;
    private boolean returnRecvHook;
    private boolean zeroCopy;
    private Tensor out;

    private LowLatencyCombineArgs(Tensor y, Tensor topkIdx, Tensor topkWeights, LowLatencyHandle handle) {
        this.y = y;
        this.topkIdx = topkIdx;
        this.topkWeights = topkWeights;
        this.handle = handle;
    }

    public static LowLatencyCombineArgs of(Tensor y, Tensor topkIdx, Tensor topkWeights, LowLatencyHandle handle) {
        return new LowLatencyCombineArgs(y, topkIdx, topkWeights, handle);
    }

    public LowLatencyCombineArgs returnRecvHook(boolean hook) {
        this.returnRecvHook = hook;
        return this;
    }

    /** {@code y} is the tensor {@link EpBuffer#lowLatencyCombineInput} returned: the backend reads it in place. */
    public LowLatencyCombineArgs zeroCopy(boolean zeroCopy) {
        this.zeroCopy = zeroCopy;
        return this;
    }

    /** Write the result here ({@code [T, H]} bf16, on this rank's device) instead of a new tensor. */
    public LowLatencyCombineArgs out(Tensor out) {
        this.out = out;
        return this;
    }

    public Tensor y() {
        return y;
    }

    public Tensor topkIdx() {
        return topkIdx;
    }

    public Tensor topkWeights() {
        return topkWeights;
    }

    public LowLatencyHandle handle() {
        return handle;
    }

    public boolean returnRecvHook() {
        return returnRecvHook;
    }

    public boolean zeroCopy() {
        return zeroCopy;
    }

    public Tensor out() {
        return out;
    }
}
