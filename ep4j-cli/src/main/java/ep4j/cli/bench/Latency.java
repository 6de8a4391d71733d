package ep4j.cli.bench;

import java.util.Arrays;
import org.HdrHistogram.Histogram;

/**
 * The distribution of a case's call times, in nanoseconds: the exact median (the mean of the
 * middle two for an even count), p50 and p99 from an HdrHistogram of the samples (three
 * significant digits: a percentile is the top of its bucket, at most 0.1% above the sample and
 * never above the max),
 * and the exact min, mean and max. NaN everywhere when there are no samples.
 */
public record Latency(int samples, double median, double p50, double p99, double min, double mean, double max) {
    /** Significant decimal digits the histogram keeps. */
    static final int DIGITS = 3;

    public static Latency of(long[] nanos) {
        if (nanos.length == 0) {
            return new Latency(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        }
        long[] v = nanos.clone();
        Arrays.sort(v);
        int n = v.length;
        Histogram h = new Histogram(DIGITS);
        long sum = 0;
        for (long x : v) {
            if (x < 0) {
                throw new IllegalArgumentException("a call time of " + x + " ns: expected >= 0");
            }
            h.recordValue(x);
            sum += x;
        }
        double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
        long max = v[n - 1];
        return new Latency(n, median, Math.min(h.getValueAtPercentile(50), max),
                Math.min(h.getValueAtPercentile(99), max), v[0], (double) sum / n, max);
    }

    /** The median in seconds. */
    public double medianSeconds() {
        return median / 1e9;
    }
}
