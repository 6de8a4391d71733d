package ep4j;

/**
 * Arguments of a normal combine: expert outputs {@code x [Nrecv, H]} bf16 in the row order the
 * dispatch produced, and that dispatch's handle.
 */
public final class CombineArgs {
    private final Tensor x;
    private final DispatchHandle handle;
    private Tensor topkWeights;
    private Tensor bias0;
    private Tensor bias1;
    private Config config = Config.auto();
    private EpEvent previous;
    private boolean async;

    private CombineArgs(Tensor x, DispatchHandle handle) {
        this.x = x;
        this.handle = handle;
    }

    public static CombineArgs of(Tensor x, DispatchHandle handle) {
        return new CombineArgs(x, handle);
    }

    /** Received weights {@code [Nrecv, K]} float32, summed back per token like the rows. */
    public CombineArgs topkWeights(Tensor weights) {
        this.topkWeights = weights;
        return this;
    }

    /** One bias {@code [T, H]} bf16 added to each combined token. */
    public CombineArgs bias(Tensor bias) {
        this.bias0 = bias;
        this.bias1 = null;
        return this;
    }

    /** Two biases {@code [T, H]} bf16, added in this order before the ranks' rows. */
    public CombineArgs bias(Tensor bias0, Tensor bias1) {
        this.bias0 = bias0;
        this.bias1 = bias1;
        return this;
    }

    public CombineArgs config(Config config) {
        this.config = config;
        return this;
    }

    public CombineArgs previous(EpEvent event) {
        this.previous = event;
        return this;
    }

    public CombineArgs async(boolean async) {
        this.async = async;
        return this;
    }

    public Tensor x() {
        return x;
    }

    public DispatchHandle handle() {
        return handle;
    }

    public Tensor topkWeights() {
        return topkWeights;
    }

    public Tensor bias0() {
        return bias0;
    }

    public Tensor bias1() {
        return bias1;
    }

    public Config config() {
        return config;
    }

    public EpEvent previous() {
        return previous;
    }

    public boolean async() {
        return async;
    }
}
