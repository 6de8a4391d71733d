package ep4j;

/** Arguments of a low-latency dispatch (decoding): at most the buffer's low-latency token count per rank. */
public final class LowLatencyDispatchArgs {
    private final Tensor x;
    private final Tensor topkIdx;
    private final int numExperts;
    private boolean fp8;
    private boolean roundScale;
    private boolean ue8m0;
    private boolean returnRecvHook;

    private LowLatencyDispatchArgs(Tensor x, Tensor topkIdx, int numExperts) {
        this.x = x;
        this.topkIdx = topkIdx;
        this.numExperts = numExperts;
    }

    /** bf16 tokens {@code [T, H]} and their experts {@code [T, K]} (int64 or int32, -1 for none). */
    public static LowLatencyDispatchArgs of(Tensor x, Tensor topkIdx, int numExperts) {
        return new LowLatencyDispatchArgs(x, topkIdx, numExperts);
    }

    /** Quantize to fp8 e4m3 with float32 scales, one per 128 channels (DESIGN 2.6). */
    public LowLatencyDispatchArgs fp8() {
        return fp8(false, false);
    }

    /**
     * Quantize to fp8 e4m3. {@code roundScale}: power-of-two scales; {@code ue8m0}: store only
     * their exponents, four to an int32 (implies roundScale).
     */
    public LowLatencyDispatchArgs fp8(boolean roundScale, boolean ue8m0) {
        this.fp8 = true;
        this.roundScale = roundScale || ue8m0;
        this.ue8m0 = ue8m0;
        return this;
    }

    /** Only send; the returned hook receives. */
    public LowLatencyDispatchArgs returnRecvHook(boolean hook) {
        this.returnRecvHook = hook;
        return this;
    }

    public Tensor x() {
        return x;
    }

    public Tensor topkIdx() {
        return topkIdx;
    }

    public int numExperts() {
        return numExperts;
    }

    public boolean useFp8() {
        return fp8;
    }

    public boolean roundScale() {
        return roundScale;
    }

    public boolean useUe8m0() {
        return ue8m0;
    }

    public boolean returnRecvHook() {
        return returnRecvHook;
    }
}
