package ep4j;

import ep4j.spi.Keeper;
import org.jspecify.annotations.Nullable;

/**
 * What a normal dispatch delivers to this rank (DESIGN 2.2): every token once per destination
 * rank, however many of its experts live there, ordered by source rank ascending, then source
 * token ascending. Owns its tensors and its handle (a cached dispatch does not own the handle it
 * reused): closing it frees them, and the handle is then rejected by combine.
 */
public final class Dispatched extends OwnedResult {
    private volatile Tensor x;
    private volatile @Nullable Tensor scales;
    private volatile @Nullable Tensor topkIdx;
    private volatile @Nullable Tensor topkWeights;
    private final Tensor tokensPerExpert;
    private final int @Nullable [] tokensPerExpertList;
    private final DispatchHandle handle;
    private final EpEvent event;
    private final boolean ownsHandle;
    private @Nullable Keeper keeper;

    Dispatched(Tensor x, @Nullable Tensor scales, @Nullable Tensor topkIdx, @Nullable Tensor topkWeights,
            Tensor tokensPerExpert, int @Nullable [] tokensPerExpertList, DispatchHandle handle, EpEvent event,
            boolean ownsHandle, @Nullable Keeper keeper) {
        super(x, scales, topkIdx, topkWeights, tokensPerExpert, ownsHandle ? handle : null);
        this.x = x;
        this.scales = scales;
        this.topkIdx = topkIdx;
        this.topkWeights = topkWeights;
        this.tokensPerExpert = tokensPerExpert;
        this.tokensPerExpertList = tokensPerExpertList;
        this.handle = handle;
        this.event = event;
        this.ownsHandle = ownsHandle;
        this.keeper = keeper;
    }

    /**
     * Makes this result's rows outlive later calls. On the GPU a dispatch leaves its rows where
     * they arrived, in one of two receive slots of the buffer that dispatches alternate: the
     * tensors above are views of that slot, readable until the dispatch after next refills it
     * (then reading them throws {@link IllegalStateException}, never returning newer rows).
     * {@code keep()} copies them (and the handle's source-token view) into memory this result
     * owns: one device copy, ordered on the rank's stream, so it is cheap and needs no
     * synchronization. Training keeps dispatched activations until the backward pass this way.
     * Calling it again, or on a result whose tensors are not views, does nothing.
     *
     * @return this result
     * @throws IllegalStateException when the result was closed, or its views already expired
     */
    public synchronized Dispatched keep() {
        open(this);
        Keeper k = keeper;
        if (k == null) {
            return this;
        }
        x = kept(k, x);
        scales = kept(k, scales);
        topkIdx = kept(k, topkIdx);
        topkWeights = kept(k, topkWeights);
        if (ownsHandle) {
            handle.keep(k);
        }
        keeper = null;
        return this;
    }

    private @Nullable Tensor kept(Keeper k, @Nullable Tensor view) {
        if (view == null || !view.isRecycledView()) {
            return view;
        }
        Tensor copy = k.keep(view);
        adopt(copy);
        return copy;
    }

    /**
     * The received tokens, in the order above. After a {@link DispatchArgs#numWorstTokens}
     * dispatch, rows past the received count mean nothing (their top-k index is -1).
     *
     * @return {@code [numRows, H]}, the dtype sent (bf16, or fp8 e4m3)
     * @throws IllegalStateException when the result was closed
     */
    public Tensor x() {
        return open(x);
    }

    /**
     * The received fp8 scales, carried unchanged (not re-quantized).
     *
     * @return {@code [numRows, S]} as sent, or null for a bf16 dispatch
     * @throws IllegalStateException when the result was closed
     */
    public @Nullable Tensor scales() {
        return open(scales);
    }

    /**
     * The received top-k: the <b>local</b> expert index where the expert lives on this rank,
     * else -1; every slot of the source token is kept (a duplicated expert appears in each of its
     * slots).
     *
     * @return {@code [numRows, K]}, the index dtype sent (int64 or int32); null when the
     *         dispatch had no topk (a cached dispatch has none either)
     * @throws IllegalStateException when the result was closed
     */
    public @Nullable Tensor topkIdx() {
        return open(topkIdx);
    }

    /**
     * The received weights: the weight where the index is kept, else 0.
     *
     * @return {@code [numRows, K]} float32, or null when the dispatch had no weights
     * @throws IllegalStateException when the result was closed
     */
    public @Nullable Tensor topkWeights() {
        return open(topkWeights);
    }

    /**
     * Received tokens per local expert, each rounded up to {@link DispatchArgs#expertAlignment};
     * a token that lists one expert in several slots counts once.
     *
     * @return {@code [L]} int32 on the rank's device
     * @throws IllegalStateException when the result was closed
     */
    public Tensor tokensPerExpert() {
        return open(tokensPerExpert);
    }

    /**
     * The same counts as {@link #tokensPerExpert()}, on the host (a copy).
     *
     * @return {@code L} counts
     * @throws IllegalStateException when the result was closed, or after a
     *         {@link DispatchArgs#numWorstTokens} dispatch: the counts are then not on the host
     *         (no host synchronization); read {@link #tokensPerExpert()}
     */
    public int[] tokensPerExpertList() {
        open(this);
        if (tokensPerExpertList == null) {
            throw new IllegalStateException(
                    "tokensPerExpertList is not on the host after a numWorstTokens dispatch; read tokensPerExpert()");
        }
        return tokensPerExpertList.clone();
    }

    /**
     * Rows of the received tensors: the received count, or {@link DispatchArgs#numWorstTokens}.
     *
     * @return the row count
     */
    public long numRows() {
        return x.dim(0);
    }

    /**
     * The routing of this dispatch, for {@link EpBuffer#combine} and cached dispatch.
     *
     * @return the handle, owned by this result (unless this was a cached dispatch)
     * @throws IllegalStateException when the result was closed
     */
    public DispatchHandle handle() {
        return open(handle);
    }

    /**
     * Completion of the call: an async call's results are ready once it completes.
     *
     * @return the event ({@link EpEvent#completed()} for a synchronous call)
     */
    public EpEvent event() {
        return event;
    }
}
