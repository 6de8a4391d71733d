package ep4j;

import org.jspecify.annotations.Nullable;

/**
 * Arguments of a normal dispatch ({@link EpBuffer#dispatch}): the tokens, and either fresh
 * routing ({@link #topk} and {@link #layout}) or the routing of an earlier dispatch
 * ({@link #cached}). Fluent setters; the arguments are read when the call is made and not kept.
 *
 * <pre>{@code
 * DispatchArgs.of(x).topk(topkIdx, topkWeights).layout(layout).expertAlignment(128)
 * DispatchArgs.fp8(xFp8, scales).cached(handle)
 * }</pre>
 */
public final class DispatchArgs extends NormalCallArgs<DispatchArgs> {
    private final Tensor x;
    private final @Nullable Tensor scales;
    private @Nullable Tensor topkIdx;
    private @Nullable Tensor topkWeights;
    private @Nullable DispatchLayout layout;
    private @Nullable DispatchHandle handle;
    private int expertAlignment = 1;
    private int numWorstTokens;

    private DispatchArgs(Tensor x, @Nullable Tensor scales) {
        this.x = x;
        this.scales = scales;
    }

    /**
     * Dispatches bf16 tokens.
     *
     * @param x {@code [T, H]} bf16 on this rank's device
     * @return the arguments
     */
    public static DispatchArgs of(Tensor x) {
        return new DispatchArgs(x, null);
    }

    /**
     * Dispatches fp8 e4m3 tokens with their scales, which travel unchanged (not re-quantized).
     *
     * @param x      {@code [T, H]} fp8 e4m3
     * @param scales {@code [T, H/128]} float32, or packed UE8M0 exponents {@code [T, ceil(H/512)]} int32
     * @return the arguments
     */
    public static DispatchArgs fp8(Tensor x, Tensor scales) {
        return new DispatchArgs(x, scales);
    }

    /**
     * The experts of every token. The received top-k maps each index to the local expert on the
     * receiving rank (else -1) and keeps every slot.
     *
     * @param idx     {@code [T, K]} int64 or int32, values in {@code [-1, E)}; -1 for an empty slot
     * @param weights {@code [T, K]} float32, or null to dispatch no weights
     * @return these arguments
     */
    public DispatchArgs topk(Tensor idx, @Nullable Tensor weights) {
        this.topkIdx = idx;
        this.topkWeights = weights;
        return this;
    }

    /**
     * The layout of the same routing, from {@link EpBuffer#layout} on this buffer. Given together
     * with {@link #topk}, it must be the layout of that top-k (checked on the CPU backend).
     *
     * @param layout an open layout
     * @return these arguments
     */
    public DispatchArgs layout(DispatchLayout layout) {
        this.layout = layout;
        return this;
    }

    /**
     * Reuses the routing of an earlier dispatch on the same buffer: no top-k, no layout, no host
     * synchronization (the backward pass of combine). The rows come in the order of that
     * dispatch, as many as it had; {@link #numWorstTokens} is then ignored.
     *
     * @param handle the handle of an earlier dispatch on this buffer, still open
     * @return these arguments
     */
    public DispatchArgs cached(DispatchHandle handle) {
        this.handle = handle;
        return this;
    }

    /**
     * Rounds every received per-expert count ({@link Dispatched#tokensPerExpert()}) up to a
     * multiple of this, so that grouped GEMMs can use aligned blocks.
     *
     * @param alignment {@code >= 1}; 1 by default
     * @return these arguments
     */
    public DispatchArgs expertAlignment(int alignment) {
        this.expertAlignment = alignment;
        return this;
    }

    /**
     * Allocates the outputs at this worst-case row count, so that the call needs no host
     * synchronization (CUDA-graph friendly); unused rows have top-k index -1 (their other
     * contents mean nothing), and
     * {@link Dispatched#tokensPerExpertList()} is then not available. A rank that receives more
     * rows than this fails the call on every rank.
     *
     * @param rows 0 for the exact size (the default), or 1 to {@code ranks * maxTokensPerRank}
     * @return these arguments
     */
    public DispatchArgs numWorstTokens(int rows) {
        this.numWorstTokens = rows;
        return this;
    }

    /**
     * The tokens.
     *
     * @return {@code x}
     */
    public Tensor x() {
        return x;
    }

    /**
     * The fp8 scales.
     *
     * @return the scales, or null for bf16 tokens
     */
    public @Nullable Tensor scales() {
        return scales;
    }

    /**
     * Whether the tokens are fp8.
     *
     * @return true when made by {@link #fp8}
     */
    public boolean isFp8() {
        return scales != null;
    }

    /**
     * The experts of every token.
     *
     * @return the indices, or null
     */
    public @Nullable Tensor topkIdx() {
        return topkIdx;
    }

    /**
     * The weights of every token's experts.
     *
     * @return the weights, or null
     */
    public @Nullable Tensor topkWeights() {
        return topkWeights;
    }

    /**
     * The layout of fresh routing.
     *
     * @return the layout, or null
     */
    public @Nullable DispatchLayout layout() {
        return layout;
    }

    /**
     * The handle of cached routing.
     *
     * @return the handle, or null for fresh routing
     */
    public @Nullable DispatchHandle cachedHandle() {
        return handle;
    }

    /**
     * The alignment of the per-expert counts.
     *
     * @return {@code >= 1} when valid
     */
    public int expertAlignment() {
        return expertAlignment;
    }

    /**
     * The worst-case row count.
     *
     * @return rows, or 0 for the exact size
     */
    public int numWorstTokens() {
        return numWorstTokens;
    }
}
