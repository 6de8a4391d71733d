package ep4j.cpu.control;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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
    private final AtomicLong rings = new AtomicLong();
    /** Waiters inside {@link #sleep}: a ring takes the lock only when there is one. */
    private volatile int sleepers;

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
        return rings.get();
    }

    /**
     * Wakes every sleeper (after a word was written). A sleeper counts itself before it compares
     * its ticket, a ringer counts the ring before it looks for sleepers (all volatile): either the
     * sleeper sees the ring, or the ringer sees the sleeper and signals it under the lock.
     */
    public void ring() {
        rings.incrementAndGet();
        if (sleepers > 0) {
            lock.lock();
            try {
                rung.signalAll();
            } finally {
                lock.unlock();
            }
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
        sleepers++;
        try {
            if (rings.get() == ticket) {
                rung.awaitNanos(wait);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            sleepers--;
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        return "Doorbell[" + rings.get() + " rings, sleeps up to " + TimeUnit.NANOSECONDS.toMicros(maxSleepNanos) + " us]";
    }
}
