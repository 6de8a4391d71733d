package ep4j;

/**
 * Arguments of a low-latency dispatch ({@link EpBuffer#lowLatencyDispatch}), for decoding: at
 * most the buffer's low-latency token count per rank, routed to a fixed number of experts. A
 * token that lists one expert in several slots is sent to it once. Fluent setters; the
 * arguments are read when the call is made and not kept.
 *
 * <pre>{@code LowLatencyDispatchArgs.of(x, topkIdx, 256).fp8().returnRecvHook(true)}</pre>
 */
public final class LowLatencyDispatchArgs {
    private final Tensor x;
    private final Tensor topkIdx;
    private final int numExperts;
    private boolean fp8;
    private boolean roundScale;
    private boolean ue8m0;
    private boolean returnRecvHook;
    private boolean async;

    private LowLatencyDispatchArgs(Tensor x, Tensor topkIdx, int numExperts) {
        this.x = x;
        this.topkIdx = topkIdx;
        this.numExperts = numExperts;
    }

    /**
     * Dispatches bf16 tokens to their experts.
     *
     * @param x          {@code [T, H]} bf16, {@code T <= } the buffer's low-latency {@code maxTokensPerRank}
     * @param topkIdx    {@code [T, K]} int64 or int32, values in {@code [-1, E)}; -1 for an empty slot
     * @param numExperts {@code E}: the buffer's low-latency expert count
     * @return the arguments
     */
    public static LowLatencyDispatchArgs of(Tensor x, Tensor topkIdx, int numExperts) {
        return new LowLatencyDispatchArgs(x, topkIdx, numExperts);
    }

    /**
     * Quantizes to fp8 e4m3 on the way, with float32 scales, one per 128 channels (DESIGN 2.6).
     *
     * @return these arguments
     */
    public LowLatencyDispatchArgs fp8() {
        return fp8(false, false);
    }

    /**
     * Quantizes to fp8 e4m3 on the way (DESIGN 2.6).
     *
     * @param roundScale power-of-two scales
     * @param ue8m0      store only the scales' exponents, four to an int32 (implies {@code roundScale})
     * @return these arguments
     */
    public LowLatencyDispatchArgs fp8(boolean roundScale, boolean ue8m0) {
        this.fp8 = true;
        this.roundScale = roundScale || ue8m0;
        this.ue8m0 = ue8m0;
        return this;
    }

    /**
     * Only send, and return a hook that receives ({@link LowLatencyDispatched#hook()}); between
     * the two the backend holds no SM, so the caller can overlap compute.
     *
     * @param hook true to split the call (false by default)
     * @return these arguments
     */
    public LowLatencyDispatchArgs returnRecvHook(boolean hook) {
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
    public LowLatencyDispatchArgs async(boolean async) {
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
     * The tokens.
     *
     * @return {@code x}
     */
    public Tensor x() {
        return x;
    }

    /**
     * The experts of every token.
     *
     * @return the indices
     */
    public Tensor topkIdx() {
        return topkIdx;
    }

    /**
     * The number of experts.
     *
     * @return {@code E}
     */
    public int numExperts() {
        return numExperts;
    }

    /**
     * Whether the tokens are quantized to fp8.
     *
     * @return true after {@link #fp8()}
     */
    public boolean useFp8() {
        return fp8;
    }

    /**
     * Whether fp8 scales are powers of two.
     *
     * @return true for round or UE8M0 scales
     */
    public boolean roundScale() {
        return roundScale;
    }

    /**
     * Whether fp8 scales are stored as packed exponents.
     *
     * @return true for UE8M0 scales
     */
    public boolean useUe8m0() {
        return ue8m0;
    }

    /**
     * Whether the call only sends.
     *
     * @return true when a hook receives
     */
    public boolean returnRecvHook() {
        return returnRecvHook;
    }
}
