package ep4j.rendezvous;

import java.time.Duration;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;

/**
 * What the job's store holds, with {@link LocalRendezvous}'s semantics: values written once,
 * waits for a key, barriers, and which ranks joined and left. No I/O: {@link TcpStore} serves it.
 * Every wait ends at its deadline or when the state is closed.
 */
final class StoreState {
    private final int size;
    private final long maxStoredBytes;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Map<String, byte[]> values = new HashMap<>();
    private final Map<String, BitSet> barriers = new HashMap<>();
    private final BitSet joined = new BitSet();
    private final BitSet left = new BitSet();
    private long storedBytes;
    private boolean closed;

    StoreState(int size, long maxStoredBytes) {
        this.size = size;
        this.maxStoredBytes = maxStoredBytes;
    }

    /** Null when {@code rank} joined, else why it may not. */
    @Nullable String join(int rank, int theirSize) {
        lock.lock();
        try {
            if (theirSize != size) {
                return "rank 0's store serves a job of " + size + " ranks, but rank " + rank + " says WORLD_SIZE="
                        + theirSize + " (every rank must see the same world size)";
            }
            if (rank < 0 || rank >= size) {
                return "rank " + rank + " is not a rank of this job (0 to " + (size - 1) + ")";
            }
            if (joined.get(rank)) {
                return "rank " + rank + " has already joined this job (two processes with the same RANK?)";
            }
            joined.set(rank);
            return null;
        } finally {
            lock.unlock();
        }
    }

    /** {@code rank} left: said BYE, or its connection ended. */
    void leave(int rank) {
        lock.lock();
        try {
            left.set(rank);
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Null when written, else why not. */
    @Nullable String put(String key, byte[] value) {
        lock.lock();
        try {
            if (values.containsKey(key)) {
                return "rendezvous key '" + key + "' was already written";
            }
            long bytes = key.length() * 2L + value.length;
            if (storedBytes + bytes > maxStoredBytes) {
                return "the rendezvous store is full (" + storedBytes + " bytes held, at most " + maxStoredBytes + ")";
            }
            values.put(key, value);
            storedBytes += bytes;
            changed.signalAll();
            return null;
        } finally {
            lock.unlock();
        }
    }

    /** The value, or null when it was not written within {@code ms} (or the state closed). */
    byte @Nullable [] get(String key, long ms) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        lock.lock();
        try {
            while (!values.containsKey(key) && await(deadline)) {
                // woken: look again
            }
            return values.get(key);
        } finally {
            lock.unlock();
        }
    }

    /** Records {@code rank} at {@code name}; the ranks missing after {@code ms} (empty once all arrived). */
    BitSet barrier(String name, int rank, long ms) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        lock.lock();
        try {
            BitSet in = barriers.computeIfAbsent(name, k -> {
                storedBytes += name.length() * 2L + size / 8;
                return new BitSet(size);
            });
            in.set(rank);
            changed.signalAll();
            while (in.cardinality() < size && await(deadline)) {
                // woken: look again
            }
            BitSet missing = new BitSet(size);
            missing.set(0, size);
            missing.andNot(in);
            return missing;
        } finally {
            lock.unlock();
        }
    }

    /** Waits until every rank has left, at most {@code timeout}; the ranks that had not (empty when all did). */
    List<Integer> awaitAllLeft(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (left.cardinality() < size && await(deadline)) {
                // woken: look again
            }
            return IntStream.range(0, size).filter(r -> !left.get(r)).boxed().toList();
        } finally {
            lock.unlock();
        }
    }

    /** Ends every wait now and from now on. */
    void close() {
        lock.lock();
        try {
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits for a change until {@code deadline}; false once it passed, the state closed, or on interrupt. */
    private boolean await(long deadline) {
        long rest = deadline - System.nanoTime();
        if (rest <= 0 || closed) {
            return false;
        }
        try {
            changed.awaitNanos(rest);
            return !closed;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
