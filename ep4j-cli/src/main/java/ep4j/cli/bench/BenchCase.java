package ep4j.cli.bench;

/** What {@code ep4j bench} measures, in table order. */
public enum BenchCase {
    DISPATCH_BF16("dispatch bf16", false, false, false),
    DISPATCH_FP8("dispatch fp8", false, true, false),
    COMBINE_BF16("combine bf16", false, false, true),
    LL_DISPATCH_BF16("ll dispatch bf16", true, false, false),
    LL_DISPATCH_FP8("ll dispatch fp8", true, true, false),
    LL_COMBINE_BF16("ll combine bf16", true, false, true),
    /** One CUDA-graph replay of [low-latency dispatch bf16, low-latency combine of the received rows]; GPUs only. */
    LL_GRAPH_BF16("ll graph d+c bf16", true, false, false);

    private final String label;
    private final boolean lowLatency;
    private final boolean fp8;
    private final boolean combine;

    BenchCase(String label, boolean lowLatency, boolean fp8, boolean combine) {
        this.label = label;
        this.lowLatency = lowLatency;
        this.fp8 = fp8;
        this.combine = combine;
    }

    public String label() {
        return label;
    }

    public boolean lowLatency() {
        return lowLatency;
    }

    /** The cases a backend without device graphs (the CPU backend) measures, in table order. */
    public static BenchCase[] onCpu() {
        return java.util.Arrays.stream(values()).filter(c -> !c.gpuOnly()).toArray(BenchCase[]::new);
    }

    /** Measured only where the backend has device graphs (GPUs). */
    public boolean gpuOnly() {
        return this == LL_GRAPH_BF16;
    }

    public boolean fp8() {
        return fp8;
    }

    /** Combine moves rows back from the expert ranks: its byte matrix is dispatch's, transposed. */
    public boolean combine() {
        return combine;
    }

    /**
     * Bytes of one moved row, as DeepEP counts them: {@code 2H} for bf16, {@code H + 4H/128} for
     * fp8 (the e4m3 bytes plus their float32 scales).
     */
    public long rowBytes(int hidden) {
        return fp8 ? hidden + 4L * (hidden / 128) : 2L * hidden;
    }
}
