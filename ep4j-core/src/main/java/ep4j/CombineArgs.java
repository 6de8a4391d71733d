package ep4j;

import org.jspecify.annotations.Nullable;

/**
 * Arguments of a normal combine ({@link EpBuffer#combine}): the expert outputs
 * {@code x [Nrecv, H]} bf16, in the row order the dispatch produced, and that dispatch's handle.
 * The top-k weights are <b>not</b> applied to the rows (the expert computation applies them);
 * weights given here are only summed back per token. Fluent setters; the arguments are read when
 * the call is made and not kept.
 *
 * <pre>{@code CombineArgs.of(expertOut, dispatched.handle()).bias(sharedExpertOut)}</pre>
 */
public final class CombineArgs extends NormalCallArgs<CombineArgs> {
    private final Tensor x;
    private final DispatchHandle handle;
    private @Nullable Tensor topkWeights;
    private @Nullable Tensor bias0;
    private @Nullable Tensor bias1;

    private CombineArgs(Tensor x, DispatchHandle handle) {
        this.x = x;
        this.handle = handle;
    }

    /**
     * Combines {@code x} back to the tokens' home ranks along the routing of {@code handle}.
     *
     * @param x      {@code [handle.numRows(), H]} bf16 on this rank's device
     * @param handle the handle of a dispatch on the same buffer, still open
     * @return the arguments
     */
    public static CombineArgs of(Tensor x, DispatchHandle handle) {
        return new CombineArgs(x, handle);
    }

    /**
     * Received weights to sum back per token like the rows ({@link Combined#topkWeights()}).
     *
     * @param weights {@code [Nrecv, K]} float32, or null for none (the default)
     * @return these arguments
     */
    public CombineArgs topkWeights(@Nullable Tensor weights) {
        this.topkWeights = weights;
        return this;
    }

    /**
     * One bias added to each combined token before the ranks' rows.
     *
     * @param bias {@code [T, H]} bf16, or null for none
     * @return these arguments
     */
    public CombineArgs bias(@Nullable Tensor bias) {
        this.bias0 = bias;
        this.bias1 = null;
        return this;
    }

    /**
     * Two biases added to each combined token, in this order, before the ranks' rows.
     *
     * @param bias0 {@code [T, H]} bf16, or null
     * @param bias1 {@code [T, H]} bf16, or null
     * @return these arguments
     */
    public CombineArgs bias(@Nullable Tensor bias0, @Nullable Tensor bias1) {
        this.bias0 = bias0;
        this.bias1 = bias1;
        return this;
    }

    /**
     * The expert outputs.
     *
     * @return {@code x}
     */
    public Tensor x() {
        return x;
    }

    /**
     * The dispatch handle.
     *
     * @return the handle
     */
    public DispatchHandle handle() {
        return handle;
    }

    /**
     * The weights to sum back.
     *
     * @return the weights, or null
     */
    public @Nullable Tensor topkWeights() {
        return topkWeights;
    }

    /**
     * The first bias.
     *
     * @return the bias, or null
     */
    public @Nullable Tensor bias0() {
        return bias0;
    }

    /**
     * The second bias.
     *
     * @return the bias, or null
     */
    public @Nullable Tensor bias1() {
        return bias1;
    }
}
