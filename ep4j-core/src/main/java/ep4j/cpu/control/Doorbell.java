package ep4j.cpu.control;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * How a waiting rank sleeps between looks at the words it waits on, and how it is woken. Ranks of
 * one JVM share a group's doorbell, and every word written rings it, so they sleep until something
 * changed. A word written by another process rings nothing here: cross-process waits sleep in
 * short, growing steps ({@code maxSleepNanos} at most) and look again. An event count: a waiter
 * takes a {@link #ticket()} before it looks, and {@link #sleep} returns at once if the bell rang
 * since.
 */
public final class Doorbell {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition rung = lock.newCondition();
    private final long minSleepNanos;
    private final long maxSleepNanos;
    private volatile long rings;

    /**
     * A doorbell.
     *
     * @param minSleepNanos the first sleep of a waiter (each next one is twice as long)
     * @param maxSleepNanos the longest sleep of a waiter before it looks again
     */
    public Doorbell(long minSleepNanos, long maxSleepNanos) {
        this.minSleepNanos = minSleepNanos;
        this.maxSleepNanos = maxSleepNanos;
    }

    /** For ranks that are threads of this JVM: every change rings, so a sleep is long. */
    public static Doorbell forThreads() {
        return new Doorbell(50_000_000L, 50_000_000L);
    }

    /** For ranks in other processes: nothing rings across, so waits look again soon (20 us up to 1 ms). */
    public static Doorbell forProcesses() {
        return new Doorbell(20_000L, 1_000_000L);
    }

    /** The count to pass to {@link #sleep}, taken before looking at the words. */
    long ticket() {
        return rings;
    }

    /** Wakes every sleeper (after a word was written). */
    public void ring() {
        lock.lock();
        try {
            rings++;
            rung.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sleeps unless the bell rang since {@code ticket}, for at most {@code nanos} and at most the
     * {@code attempt}-th step of the back-off (the first sleep doubling up to the longest).
     *
     * @return false when interrupted (the interrupt status is set again)
     */
    boolean sleep(long ticket, long nanos, int attempt) {
        long step = Math.min(maxSleepNanos, minSleepNanos << Math.min(attempt, 20));
        long wait = Math.max(1, Math.min(nanos, step));
        lock.lock();
        try {
            if (rings == ticket) {
                rung.awaitNanos(wait);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "Doorbell[" + rings + " rings, sleeps up to " + TimeUnit.NANOSECONDS.toMicros(maxSleepNanos) + " us]";
    }
}
