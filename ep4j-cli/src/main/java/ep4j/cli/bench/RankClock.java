package ep4j.cli.bench;

import java.util.Arrays;

/**
 * Times collective calls made by every rank: each calls {@link #start()} (a barrier; the clock
 * starts when the last rank arrives), makes its call, then {@link #stop()} (a barrier; the sample
 * ends when the last rank is done). A sample is thus "from all ranks ready to all ranks done",
 * the same for every rank. The barriers are the {@link BenchRanks}' (threads of one JVM, or
 * processes of a job): each process keeps the samples, taken once per passage.
 */
public final class RankClock {
    private final RankBarrier startBarrier;
    private final RankBarrier stopBarrier;
    private final long[] samples;
    private final Runnable onSample;
    private volatile long t0;
    private int count;

    /**
     * @param ranks    where the ranks meet
     * @param capacity samples to keep
     * @param onSample run once per sample in each process (in one JVM by the last thread to stop),
     *                 e.g. a progress step; may be null
     */
    RankClock(BenchRanks ranks, int capacity, Runnable onSample) {
        this.samples = new long[capacity];
        this.onSample = onSample;
        this.startBarrier = ranks.barrier(t -> t0 = t);
        this.stopBarrier = ranks.barrier(this::stopped);
    }

    private void stopped(long t1) {
        long dt = t1 - t0;
        if (count < samples.length) {
            samples[count] = dt;
        }
        count++;
        if (onSample != null) {
            onSample.run();
        }
    }

    public void start() {
        startBarrier.await();
    }

    public void stop() {
        stopBarrier.await();
    }

    /** A barrier without a sample, e.g. between setup steps. */
    public void sync() {
        startBarrier.await();
    }

    /** Makes every rank waiting here fail at once (call it when one rank failed). */
    public void breakAll() {
        startBarrier.breakAll();
        stopBarrier.breakAll();
    }

    /** Samples in nanoseconds, in order, skipping the first {@code skip} (warm-up). */
    public long[] samples(int skip) {
        int n = Math.min(count, samples.length);
        return skip >= n ? new long[0] : Arrays.copyOfRange(samples, skip, n);
    }

    /** The median of the samples after {@code skip}, in seconds (NaN when none). */
    public double medianSeconds(int skip) {
        return Latency.of(samples(skip)).medianSeconds();
    }
}
