package ep4j.cuda.exchange;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * All-gather of small values between the rank threads of one JVM (device pointers of each
 * call's outputs). Each rank counts its own exchanges; a value is published in one of two
 * slots by parity, which is safe because no rank can start exchange g+2 before every rank has
 * finished reading exchange g. Waits spin briefly (the peers are usually microseconds away),
 * then park, and end in {@link EpTimeoutException} or the group's abort cause.
 */
public final class RankExchange {
    private static final long SPIN_NANOS = 200_000;

    private final int size;
    private final AtomicLongArray published;
    private final AtomicReferenceArray<Object>[] slots;
    private final String[] operations;
    private final long[] generation;
    private final AtomicReference<Throwable> abort = new AtomicReference<>();

    @SuppressWarnings("unchecked")
    public RankExchange(int size) {
        this.size = size;
        this.published = new AtomicLongArray(size);
        this.slots = new AtomicReferenceArray[] {new AtomicReferenceArray<>(size), new AtomicReferenceArray<>(size)};
        this.operations = new String[2 * size];
        this.generation = new long[size];
    }

    public void abort(Throwable cause) {
        abort.compareAndSet(null, cause);
    }

    /** Publishes {@code value} for {@code operation} and returns every rank's value, in rank order. */
    public Object[] allGather(int rank, String operation, Object value, long timeoutNanos) {
        long g = ++generation[rank];
        int parity = (int) (g & 1);
        slots[parity].set(rank, value);
        operations[parity * size + rank] = operation;
        published.set(rank, g);
        long start = System.nanoTime();
        for (int peer = 0; peer < size; peer++) {
            while (published.get(peer) < g) {
                Throwable cause = abort.get();
                if (cause != null) {
                    throw new EpException(operation + " on rank " + rank + " aborted: another rank failed: " + cause, cause);
                }
                long waited = System.nanoTime() - start;
                if (waited > timeoutNanos) {
                    throw new EpTimeoutException(operation, rank, peer,
                            "host exchange #" + g + ": peer reached #" + published.get(peer), timeoutNanos / 1_000_000);
                }
                if (waited < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(20_000);
                }
            }
        }
        Object[] out = new Object[size];
        for (int peer = 0; peer < size; peer++) {
            String theirs = operations[parity * size + peer];
            if (!operation.equals(theirs)) {
                throw new EpException("collective mismatch: rank " + rank + " called " + operation + " while rank " + peer
                        + " called " + theirs + " (every rank must make the same calls in the same order)");
            }
            out[peer] = slots[parity].get(peer);
        }
        return out;
    }
}
