package ep4j.cli.bench;

/**
 * One measured case at one size: timing samples of the synchronous calls (nanoseconds, warm-up
 * excluded), the mean bytes a rank received (its own tokens included, as DeepEP counts), the mean
 * bytes that crossed to another rank, the device time of a synchronous call's kernels (CUDA
 * events; NaN on the CPU), the baseline's median time for the bytes it moves (NaN when not
 * measured): on the CPU a plain copy of all the bytes, on GPUs peer writes of the bytes that
 * cross NVLink; the pipelined run (null when not run) and the hook mode (low-latency cases at the
 * table's size; else null).
 */
public record BenchResult(BenchCase benchCase, int ranks, int tokens, int hidden, long[] samplesNanos,
        double bytesPerRank, double crossBytesPerRank, double gpuMicros, double baselineSeconds,
        double baselineBytesPerRank, String baselineName, PipelinedTimes pipelined,
        HookTimes hook) {

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

    /** Pipelined GPU time per call, in microseconds (NaN when not measured or no device clock). */
    public double pipelinedGpuMicros() {
        return pipelined == null ? Double.NaN : pipelined.gpuMicros();
    }

    /** Host cost of a synchronous call: its median wall clock minus the pipelined GPU time, in microseconds. */
    public double hostMicros() {
        return timeMicros() - pipelinedGpuMicros();
    }

    /** Received bytes per rank / pipelined GPU time, in GB/s (NaN without it). */
    public double pipelinedLogicalGBps() {
        return bytesPerRank / pipelinedGpuMicros() / 1e3;
    }

    /** Bytes that crossed to another rank / pipelined GPU time, in GB/s (NaN without it). */
    public double pipelinedCrossGBps() {
        return crossBytesPerRank / pipelinedGpuMicros() / 1e3;
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
                gpuMicros, seconds, bytes, name, pipelined, hook);
    }
}
