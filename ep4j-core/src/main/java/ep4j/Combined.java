package ep4j;

/** The result of a normal combine on the token's home rank. Owns its tensors. */
public final class Combined extends OwnedResult {
    private final Tensor x;
    private final Tensor topkWeights;
    private final EpEvent event;

    public Combined(Tensor x, Tensor topkWeights, EpEvent event) {
        super(x, topkWeights);
        this.x = x;
        this.topkWeights = topkWeights;
        this.event = event;
    }

    /** {@code [T, H]} bf16. */
    public Tensor x() {
        return open(x);
    }

    /** {@code [T, K]} float32 summed weights, or null when none were given. */
    public Tensor topkWeights() {
        return open(topkWeights);
    }

    public EpEvent event() {
        return event;
    }
}
