package ep4j;

import org.jspecify.annotations.Nullable;

/**
 * The result of a normal combine on the tokens' home rank (DESIGN 2.3): for each token,
 * {@code bias0 + bias1 + } the sum of the rows that came back from the ranks it was sent to, in
 * float32, in ascending rank order, rounded once to bf16. The top-k weights are <b>not</b>
 * applied (the expert computation applies them). A token sent nowhere comes back as zeros (plus
 * biases). Owns its tensors: closing it frees them.
 */
public final class Combined extends OwnedResult {
    private final Tensor x;
    private final @Nullable Tensor topkWeights;
    private final EpEvent event;

    Combined(Tensor x, @Nullable Tensor topkWeights, EpEvent event) {
        super(x, topkWeights);
        this.x = x;
        this.topkWeights = topkWeights;
        this.event = event;
    }

    /**
     * The combined tokens, in this rank's token order.
     *
     * @return {@code [T, H]} bf16
     * @throws IllegalStateException when the result was closed
     */
    public Tensor x() {
        return open(x);
    }

    /**
     * The received weights summed back per token like the rows.
     *
     * @return {@code [T, K]} float32, or null when the combine had no weights
     * @throws IllegalStateException when the result was closed
     */
    public @Nullable Tensor topkWeights() {
        return open(topkWeights);
    }

    /**
     * Completion of the call.
     *
     * @return the event ({@link EpEvent#completed()} for a synchronous call)
     */
    public EpEvent event() {
        return event;
    }
}
