package ep4j.cli.job;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A barrier of the processes of a job on one host, in a {@link SharedFile} every rank maps: each
 * waiter spins on a word of shared memory, so every rank leaves within a few hundred nanoseconds
 * of the last arrival (a barrier over the rendezvous store would cost a network round trip, tens
 * of microseconds, and blur the wall clock of the call it brackets).
 *
 * <p>Protocol: a generation counter. Every rank counts the barriers it has passed; at barrier
 * {@code g} (1-based) it writes {@code g} into its own arrival word (so a timeout can name the
 * ranks that never came), then adds one to the shared arrival count. The rank that brings the
 * count to the number of ranks writes the time of its arrival ({@link System#nanoTime()}),
 * resets the count and publishes {@code g} as the generation (a release store); the others spin
 * until they read {@code g} there (acquire loads), then read that time. {@link #await} returns it:
 * the same value on every rank. It is comparable with this process's {@code System.nanoTime()}
 * because on Linux that is {@code CLOCK_MONOTONIC}, one clock for every process of the host.
 *
 * <p>Failure: a rank that fails calls {@link #breakAll}, which writes its rank into the broken
 * word; every waiter fails at once, naming it. A waiter that times out breaks the barrier the
 * same way and names the ranks that did not arrive.
 */
public final class ShmBarrier implements AutoCloseable {
    private static final long MAGIC = 0x3152414250453445L; // "E4EPBAR1", little-endian
    private static final long LINE = 64;
    private static final long PARTIES = 8;
    private static final long ARRIVED = LINE;
    private static final long GENERATION = 2 * LINE;
    private static final long RELEASED = 2 * LINE + 8;
    private static final long BROKEN = 3 * LINE;
    private static final long ARRIVALS = 4 * LINE;
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private final SharedFile file;
    private final MemorySegment seg;
    private final int parties;
    private final int rank;
    private final boolean spin;
    private final String name;
    private long passed;

    private ShmBarrier(SharedFile file, int parties, int rank, String name) {
        this.file = file;
        this.seg = file.segment();
        this.parties = parties;
        this.rank = rank;
        this.name = name;
        // Spinning is right while every rank has a core; beyond that a spinning rank takes the
        // core of the one it waits for, so waiters yield instead.
        this.spin = parties <= Runtime.getRuntime().availableProcessors();
    }

    /** Bytes of the file of a barrier of {@code parties} ranks. */
    static long bytes(int parties) {
        return ARRIVALS + parties * LINE;
    }

    /**
     * The creator's side (rank 0): a new file for {@code parties} ranks. Hand {@link #path()} to
     * the others, and {@link #unlink()} it once they all have opened it.
     *
     * @param name what the barrier is for, in messages (e.g. "the bench's barrier")
     */
    public static ShmBarrier create(int parties, int rank, String name) {
        check(parties, rank);
        SharedFile f = SharedFile.create("barrier", bytes(parties));
        f.segment().set(ValueLayout.JAVA_INT, PARTIES, parties);
        LONG.setRelease(f.segment(), 0L, MAGIC);
        return new ShmBarrier(f, parties, rank, name);
    }

    /** Another rank's side: the file rank 0 created. */
    public static ShmBarrier open(Path path, int parties, int rank, String name) {
        check(parties, rank);
        SharedFile f = SharedFile.open(path, bytes(parties), true);
        long magic = (long) LONG.getAcquire(f.segment(), 0L);
        int made = f.segment().get(ValueLayout.JAVA_INT, PARTIES);
        if (magic != MAGIC || made != parties) {
            f.close();
            throw new IllegalStateException(path + ": not a barrier of " + parties + " ranks (magic "
                    + Long.toHexString(magic) + ", ranks " + made + "): expected the file rank 0 created for this job");
        }
        return new ShmBarrier(f, parties, rank, name);
    }

    private static void check(int parties, int rank) {
        if (parties < 1 || rank < 0 || rank >= parties) {
            throw new IllegalArgumentException("barrier rank " + rank + " of " + parties
                    + ": expected 0 <= rank < ranks");
        }
    }

    public Path path() {
        return file.path();
    }

    /** Removes the file's name (the creator, once every rank has opened it); the barrier still works. */
    public void unlink() {
        file.unlink();
    }

    /**
     * Waits for every rank.
     *
     * @return {@link System#nanoTime()} of the last rank to arrive, the same on every rank
     * @throws IllegalStateException when a rank broke the barrier (naming it), or after
     *         {@code timeout} (naming the ranks that did not arrive)
     */
    public long await(Duration timeout) {
        long g = ++passed;
        LONG.setRelease(seg, arrival(rank), g);
        long arrived = (long) LONG.getAndAdd(seg, ARRIVED, 1L) + 1;
        if (arrived == parties) {
            long now = System.nanoTime();
            LONG.set(seg, RELEASED, now);
            LONG.set(seg, ARRIVED, 0L);
            LONG.setRelease(seg, GENERATION, g);
            return now;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while ((long) LONG.getAcquire(seg, GENERATION) < g) {
            long broken = (long) LONG.getAcquire(seg, BROKEN);
            if (broken != 0) {
                throw new IllegalStateException(name + ": rank " + (broken - 1) + " failed or gave up (its own output"
                        + " says why); rank " + rank + " stopped waiting at barrier " + g);
            }
            if (System.nanoTime() - deadline > 0) {
                List<Integer> missing = missing(g);
                breakAll();
                throw new IllegalStateException(name + ": rank" + (missing.size() == 1 ? " " : "s ")
                        + missing.toString().replaceAll("[\\[\\]]", "") + " did not arrive within "
                        + (timeout.toMillis() % 1000 == 0 ? timeout.toSeconds() + " s" : timeout.toMillis() + " ms")
                        + " (barrier " + g + ", rank " + rank + " waiting)");
            }
            if (spin) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        return (long) LONG.get(seg, RELEASED);
    }

    /** The ranks that have not arrived at barrier {@code g}. */
    List<Integer> missing(long g) {
        List<Integer> out = new ArrayList<>();
        for (int r = 0; r < parties; r++) {
            if ((long) LONG.getAcquire(seg, arrival(r)) < g) {
                out.add(r);
            }
        }
        return out;
    }

    /** Makes every rank waiting here, now or later, fail at once, naming this rank. */
    public void breakAll() {
        LONG.compareAndSet(seg, BROKEN, 0L, (long) rank + 1);
    }

    private static long arrival(int r) {
        return ARRIVALS + r * LINE;
    }

    @Override
    public void close() {
        file.close();
    }
}
