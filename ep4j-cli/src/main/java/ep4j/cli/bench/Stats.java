package ep4j.cli.bench;

import java.util.Arrays;

/** Order statistics of timing samples. */
final class Stats {
    private Stats() {
    }

    /** The median (mean of the middle two for an even count); NaN for no samples. */
    static double median(long[] values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        long[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
    }

    static double min(long[] values) {
        return values.length == 0 ? Double.NaN : Arrays.stream(values).min().getAsLong();
    }

    static double max(long[] values) {
        return values.length == 0 ? Double.NaN : Arrays.stream(values).max().getAsLong();
    }

    static double mean(long[] values) {
        return values.length == 0 ? Double.NaN : Arrays.stream(values).average().getAsDouble();
    }
}
