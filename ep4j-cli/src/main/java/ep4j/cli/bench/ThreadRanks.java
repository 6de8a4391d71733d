package ep4j.cli.bench;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongConsumer;

/**
 * Every rank a thread of this JVM. Barriers spin ({@link SpinBarrier}) when every rank has a
 * core of its own, since a parked thread takes tens of microseconds to wake up and a collective
 * call cannot complete before its last rank starts it; with more ranks than cores they park
 * ({@link CyclicBarrier}). The last thread to arrive runs the action. Pooling has nothing to do.
 */
final class ThreadRanks implements BenchRanks {
    private final int ranks;
    private final Duration timeout;
    private final boolean spin;

    ThreadRanks(int ranks, Duration timeout) {
        this.ranks = ranks;
        this.timeout = timeout;
        this.spin = ranks <= Runtime.getRuntime().availableProcessors();
    }

    @Override
    public int size() {
        return ranks;
    }

    @Override
    public RankBarrier barrier(LongConsumer onRelease) {
        Runnable action = () -> onRelease.accept(System.nanoTime());
        return spin ? spinning(new SpinBarrier(ranks, action)) : parking(new CyclicBarrier(ranks, action));
    }

    private RankBarrier spinning(SpinBarrier b) {
        long nanos = timeout.toNanos();
        return new RankBarrier() {
            @Override
            public void await() {
                b.await(nanos);
            }

            @Override
            public void breakAll() {
                b.breakAll();
            }
        };
    }

    private RankBarrier parking(CyclicBarrier b) {
        return new RankBarrier() {
            @Override
            public void await() {
                try {
                    b.await(timeout.toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the other ranks", e);
                } catch (BrokenBarrierException e) {
                    throw new IllegalStateException("another rank failed", e);
                } catch (TimeoutException e) {
                    throw new IllegalStateException("ranks did not meet within " + timeout.toSeconds() + " s", e);
                }
            }

            @Override
            public void breakAll() {
                b.reset();
            }
        };
    }

    @Override
    public void pool(String what, double[][]... tables) {
        // Every rank's thread wrote its own column of the same arrays.
    }

    /** Nothing to do: a rank thread that fails breaks its clocks' barriers itself ({@link RankRuns}). */
    @Override
    public void breakAll() {
    }

    @Override
    public String describe() {
        return ranks + " ranks as threads of one JVM, meeting at " + (spin ? "spinning" : "parking") + " barriers";
    }

    @Override
    public List<String> notes() {
        return List.of();
    }

    @Override
    public void close() {
    }
}
