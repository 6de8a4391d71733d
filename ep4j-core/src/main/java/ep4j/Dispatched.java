package ep4j;

/**
 * What a normal dispatch delivers to this rank, in the order of DESIGN 2.2 (source rank
 * ascending, then source token ascending). Owns its tensors and its handle.
 */
public final class Dispatched extends OwnedResult {
    private final Tensor x;
    private final Tensor scales;
    private final Tensor topkIdx;
    private final Tensor topkWeights;
    private final Tensor tokensPerExpert;
    private final int[] tokensPerExpertList;
    private final DispatchHandle handle;
    private final EpEvent event;

    public Dispatched(Tensor x, Tensor scales, Tensor topkIdx, Tensor topkWeights, Tensor tokensPerExpert,
            int[] tokensPerExpertList, DispatchHandle handle, EpEvent event) {
        this(x, scales, topkIdx, topkWeights, tokensPerExpert, tokensPerExpertList, handle, event, true);
    }

    /**
     * @param ownsHandle false for a cached dispatch: its handle belongs to the dispatch that made
     *                   it, and closing this result leaves it open
     */
    public Dispatched(Tensor x, Tensor scales, Tensor topkIdx, Tensor topkWeights, Tensor tokensPerExpert,
            int[] tokensPerExpertList, DispatchHandle handle, EpEvent event, boolean ownsHandle) {
        super(x, scales, topkIdx, topkWeights, tokensPerExpert, ownsHandle ? handle : null);
        this.x = x;
        this.scales = scales;
        this.topkIdx = topkIdx;
        this.topkWeights = topkWeights;
        this.tokensPerExpert = tokensPerExpert;
        this.tokensPerExpertList = tokensPerExpertList;
        this.handle = handle;
        this.event = event;
    }

    /** Received tokens {@code [Nrecv, H]}, same dtype as sent. */
    public Tensor x() {
        return open(x);
    }

    /** Received fp8 scales, or null for bf16. */
    public Tensor scales() {
        return open(scales);
    }

    /** {@code [Nrecv, K]} int64 (or the dtype sent): local expert index, or -1; null when dispatched without topk. */
    public Tensor topkIdx() {
        return open(topkIdx);
    }

    /** {@code [Nrecv, K]} float32: the weight where the index is kept, else 0; null without weights. */
    public Tensor topkWeights() {
        return open(topkWeights);
    }

    /** {@code [L]} int32 on the rank's device: received tokens per local expert, rounded up to the alignment. */
    public Tensor tokensPerExpert() {
        return open(tokensPerExpert);
    }

    /**
     * The same counts on the host. Not known there when dispatched with {@code numWorstTokens}
     * (no host synchronization): then an {@link IllegalStateException}.
     */
    public int[] tokensPerExpertList() {
        open(this);
        if (tokensPerExpertList == null) {
            throw new IllegalStateException(
                    "tokensPerExpertList is not on the host after a numWorstTokens dispatch; read tokensPerExpert()");
        }
        return tokensPerExpertList.clone();
    }

    /** Rows received (allocated rows with numWorstTokens). */
    public long numRows() {
        return x.dim(0);
    }

    public DispatchHandle handle() {
        return open(handle);
    }

    /** Completion of an async call ({@link EpEvent#completed()} for a synchronous one). */
    public EpEvent event() {
        return event;
    }
}
