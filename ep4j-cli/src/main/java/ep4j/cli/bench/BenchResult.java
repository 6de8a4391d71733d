package ep4j.cli.bench;

/**
 * One measured case at one size: timing samples (nanoseconds, warm-up excluded), the mean bytes
 * a rank received (its own tokens included, as DeepEP counts), the mean bytes that crossed to
 * another rank, the GPU time of the call (kernel span from CUDA events; NaN on the CPU), and the
 * baseline's median time for the bytes it moves (NaN when not measured): on the CPU a plain copy
 * of all the bytes, on GPUs peer writes of the bytes that cross NVLink.
 */
public record BenchResult(BenchCase benchCase, int ranks, int tokens, int hidden, long[] samplesNanos,
        double bytesPerRank, double crossBytesPerRank, double gpuMicros, double baselineSeconds,
        double baselineBytesPerRank, String baselineName) {

    /** The distribution of the timed calls. */
    public Latency latency() {
        return Latency.of(samplesNanos);
    }

    public double medianSeconds() {
        return latency().medianSeconds();
    }

    public double timeMicros() {
        return medianSeconds() * 1e6;
    }

    /** Received bytes per rank (own tokens included) / median time, in GB/s (10^9 bytes). */
    public double logicalGBps() {
        return bytesPerRank / medianSeconds() / 1e9;
    }

    /** Bytes that crossed to another rank / median time (NVLink on GPUs), in GB/s. */
    public double crossGBps() {
        return crossBytesPerRank / medianSeconds() / 1e9;
    }

    public double baselineGBps() {
        return baselineBytesPerRank / baselineSeconds / 1e9;
    }

    /**
     * The baseline's time for its bytes over the case's time: on the CPU logical bandwidth over a
     * plain copy's, on GPUs NVLink bandwidth over the peer-write bandwidth (NaN without baseline).
     */
    public double ratio() {
        return baselineSeconds / medianSeconds();
    }

    public BenchResult withBaseline(double seconds, double bytes, String name) {
        return new BenchResult(benchCase, ranks, tokens, hidden, samplesNanos, bytesPerRank, crossBytesPerRank,
                gpuMicros, seconds, bytes, name);
    }
}
