package ep4j.cli.bench;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A barrier whose waiters spin instead of parking: the last rank to arrive runs the action, and
 * every rank leaves within a few hundred nanoseconds of it. {@link RankClock} uses it when every
 * rank has a core of its own, because a parked thread takes tens of microseconds to wake up: a
 * collective call cannot complete before its last rank starts it, so a parking barrier would add
 * that wake-up to every timed sample (it showed as about 20 us of "host cost" per GPU call).
 */
final class SpinBarrier {
    private final int parties;
    private final Runnable action;
    private final AtomicInteger arrived = new AtomicInteger();
    private volatile int phase;
    private volatile boolean broken;

    SpinBarrier(int parties, Runnable action) {
        this.parties = parties;
        this.action = action;
    }

    /** Waits for every party; throws IllegalStateException when broken or after {@code timeoutNanos}. */
    void await(long timeoutNanos) {
        int p = phase;
        if (arrived.incrementAndGet() == parties) {
            arrived.set(0);
            try {
                if (action != null) {
                    action.run();
                }
            } finally {
                phase = p + 1;
            }
            return;
        }
        long deadline = System.nanoTime() + timeoutNanos;
        while (phase == p) {
            if (broken) {
                throw new IllegalStateException("another rank failed");
            }
            if (System.nanoTime() - deadline > 0) {
                broken = true;
                throw new IllegalStateException("ranks did not meet within " + timeoutNanos / 1_000_000_000L + " s");
            }
            Thread.onSpinWait();
        }
    }

    /** Makes every waiter fail at once. */
    void breakAll() {
        broken = true;
    }
}
