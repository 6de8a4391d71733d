package ep4j.cli.bench;

import java.util.Arrays;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Times collective calls made by one thread per rank: every rank calls {@link #start()} (a
 * barrier; the clock starts when the last rank arrives), makes its call, then {@link #stop()}
 * (a barrier; the sample ends when the last rank is done). A sample is thus "from all ranks
 * ready to all ranks done", the same for every rank.
 */
public final class RankClock {
    private final CyclicBarrier startBarrier;
    private final CyclicBarrier stopBarrier;
    private final SpinBarrier spinStart;
    private final SpinBarrier spinStop;
    private final long[] samples;
    private final Runnable onSample;
    private final long timeoutSeconds;
    private volatile long t0;
    private int count;

    /**
     * @param ranks    threads that take part
     * @param capacity samples to keep
     * @param onSample run once per sample (by the last thread to stop), e.g. a progress step; may be null
     */
    public RankClock(int ranks, int capacity, Runnable onSample) {
        this(ranks, capacity, onSample, 600);
    }

    RankClock(int ranks, int capacity, Runnable onSample, long timeoutSeconds) {
        this.samples = new long[capacity];
        this.onSample = onSample;
        this.timeoutSeconds = timeoutSeconds;
        Runnable started = () -> t0 = System.nanoTime();
        Runnable stopped = () -> {
            long dt = System.nanoTime() - t0;
            if (count < samples.length) {
                samples[count] = dt;
            }
            count++;
            if (this.onSample != null) {
                this.onSample.run();
            }
        };
        boolean spin = ranks <= Runtime.getRuntime().availableProcessors();
        this.startBarrier = spin ? null : new CyclicBarrier(ranks, started);
        this.stopBarrier = spin ? null : new CyclicBarrier(ranks, stopped);
        this.spinStart = spin ? new SpinBarrier(ranks, started) : null;
        this.spinStop = spin ? new SpinBarrier(ranks, stopped) : null;
    }

    public void start() {
        await(startBarrier, spinStart);
    }

    public void stop() {
        await(stopBarrier, spinStop);
    }

    /** A barrier without a sample, e.g. between setup steps. */
    public void sync() {
        await(startBarrier, spinStart);
    }

    /** Makes every rank waiting here fail at once (call it when one rank failed). */
    public void breakAll() {
        if (spinStart != null) {
            spinStart.breakAll();
            spinStop.breakAll();
        } else {
            startBarrier.reset();
            stopBarrier.reset();
        }
    }

    private void await(CyclicBarrier b, SpinBarrier spin) {
        if (spin != null) {
            spin.await(timeoutSeconds * 1_000_000_000L);
            return;
        }
        try {
            b.await(timeoutSeconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the other ranks", e);
        } catch (BrokenBarrierException e) {
            throw new IllegalStateException("another rank failed", e);
        } catch (TimeoutException e) {
            throw new IllegalStateException("ranks did not meet within " + timeoutSeconds + " s", e);
        }
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
