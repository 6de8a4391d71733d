package ep4j;

/**
 * Arguments of a normal dispatch. Either fresh routing ({@link #topk} and {@link #layout}) or
 * the routing of an earlier dispatch ({@link #cached}).
 *
 * <pre>{@code
 * DispatchArgs.of(x).topk(topkIdx, topkWeights).layout(layout).expertAlignment(128)
 * DispatchArgs.fp8(xFp8, scales).cached(handle)
 * }</pre>
 */
public final class DispatchArgs {
    private final Tensor x;
    private final Tensor scales;
    private Tensor topkIdx;
    private Tensor topkWeights;
    private DispatchLayout layout;
    private DispatchHandle handle;
    private int expertAlignment = 1;
    private int numWorstTokens;
    private Config config = Config.auto();
    private EpEvent previous;
    private boolean async;

    private DispatchArgs(Tensor x, Tensor scales) {
        this.x = x;
        this.scales = scales;
    }

    /** bf16 tokens {@code [T, H]}. */
    public static DispatchArgs of(Tensor x) {
        return new DispatchArgs(x, null);
    }

    /**
     * fp8 e4m3 tokens {@code [T, H]} with their scales {@code [T, S]}: float32 {@code [T, H/128]},
     * or packed UE8M0 int32 {@code [T, ceil(H/512)]}. Scales travel unchanged.
     */
    public static DispatchArgs fp8(Tensor x, Tensor scales) {
        return new DispatchArgs(x, scales);
    }

    /** The experts of every token: {@code idx [T, K]} int64 or int32 in {@code [-1, E)}; weights {@code [T, K]} float32 or null. */
    public DispatchArgs topk(Tensor idx, Tensor weights) {
        this.topkIdx = idx;
        this.topkWeights = weights;
        return this;
    }

    public DispatchArgs layout(DispatchLayout layout) {
        this.layout = layout;
        return this;
    }

    /** Reuse the routing of an earlier dispatch on the same buffer: no topk, no layout, no host synchronization. */
    public DispatchArgs cached(DispatchHandle handle) {
        this.handle = handle;
        return this;
    }

    /** Rounds every received per-expert count up to a multiple of this (>= 1). */
    public DispatchArgs expertAlignment(int alignment) {
        this.expertAlignment = alignment;
        return this;
    }

    /** Allocate outputs at this worst-case row count so no host synchronization is needed (0: exact size). */
    public DispatchArgs numWorstTokens(int rows) {
        this.numWorstTokens = rows;
        return this;
    }

    public DispatchArgs config(Config config) {
        this.config = config;
        return this;
    }

    /** The call starts only once this event has completed. */
    public DispatchArgs previous(EpEvent event) {
        this.previous = event;
        return this;
    }

    /** Return as soon as the work is queued; {@link Dispatched#event()} tells when results are ready. */
    public DispatchArgs async(boolean async) {
        this.async = async;
        return this;
    }

    public Tensor x() {
        return x;
    }

    public Tensor scales() {
        return scales;
    }

    public boolean isFp8() {
        return scales != null;
    }

    public Tensor topkIdx() {
        return topkIdx;
    }

    public Tensor topkWeights() {
        return topkWeights;
    }

    public DispatchLayout layout() {
        return layout;
    }

    public DispatchHandle cachedHandle() {
        return handle;
    }

    public int expertAlignment() {
        return expertAlignment;
    }

    public int numWorstTokens() {
        return numWorstTokens;
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
