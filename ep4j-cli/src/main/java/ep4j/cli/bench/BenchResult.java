package ep4j.cli.bench;

/**
 * One measured case at one size: timing samples (nanoseconds, warm-up excluded), the mean bytes
 * a rank received (its own tokens included, as DeepEP counts), and the baseline's median time
 * for the same bytes (NaN when not measured).
 */
public record BenchResult(BenchCase benchCase, int ranks, int tokens, int hidden, long[] samplesNanos,
        double bytesPerRank, double baselineSeconds, String baselineName) {

    public double medianSeconds() {
        return Stats.median(samplesNanos) / 1e9;
    }

    public double timeMicros() {
        return medianSeconds() * 1e6;
    }

    /** Received bytes per rank (own tokens included) / median time, in GB/s (10^9 bytes). */
    public double logicalGBps() {
        return bytesPerRank / medianSeconds() / 1e9;
    }

    public double baselineGBps() {
        return bytesPerRank / baselineSeconds / 1e9;
    }

    /** Logical bandwidth over the baseline's bandwidth for the same bytes (NaN without baseline). */
    public double ratio() {
        return logicalGBps() / baselineGBps();
    }

    public BenchResult withBaseline(double seconds, String name) {
        return new BenchResult(benchCase, ranks, tokens, hidden, samplesNanos, bytesPerRank, seconds, name);
    }
}
