package ep4j.cpu.control;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.PeerDiedException;
import ep4j.process.Liveness;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Every wait of one rank for its peers: until a word reaches a call number, bounded by the
 * buffer's timeout, and ended early, naming the cause, when this group was aborted or closed,
 * this buffer closed, the peer closed its buffer, any peer's group was aborted, the awaited peer
 * failed the very call awaited, or (ranks in other processes) any peer's process died.
 */
final class Waits {
    /** How often a cross-process wait checks that its peers' processes live. */
    static final long LIVENESS_NANOS = 10_000_000L;

    /** What a wait does when the awaited peer failed the call it waits for. */
    enum OnPeerFailure {
        /** Nothing: the word is all that counts. */
        IGNORE,
        /** The peer will never do what is awaited: this call fails too (its signal is poisoned). */
        FAIL,
        /** The peer will never read what is awaited: the wait is over. */
        DONE
    }

    private final int rank;
    private final ControlBlock[] blocks;
    private final Doorbell bell;
    private final long timeoutNanos;
    private final long timeoutMillis;
    private final Supplier<Throwable> abortCause;
    private final BooleanSupplier groupClosed;
    private final BooleanSupplier selfClosed;
    private final boolean crossProcess;
    private volatile int deadPeer = -1;

    Waits(int rank, ControlBlock[] blocks, Doorbell bell, long timeoutNanos, Supplier<Throwable> abortCause,
            BooleanSupplier groupClosed, BooleanSupplier selfClosed, boolean crossProcess) {
        this.rank = rank;
        this.blocks = blocks;
        this.bell = bell;
        this.timeoutNanos = timeoutNanos;
        this.timeoutMillis = Math.max(1, timeoutNanos / 1_000_000);
        this.abortCause = abortCause;
        this.groupClosed = groupClosed;
        this.selfClosed = selfClosed;
        this.crossProcess = crossProcess;
    }

    /**
     * Waits until {@code word} reaches {@code want}.
     *
     * @param op        the call, for messages
     * @param peer      the rank whose progress the word shows
     * @param word      reads the word (with acquire)
     * @param want      the value awaited
     * @param onFailure what the peer's failure of call {@code want} means
     * @param counters  what was seen, for messages
     */
    void until(String op, int peer, LongSupplier word, long want, OnPeerFailure onFailure, Supplier<String> counters) {
        long start = System.nanoTime();
        long deadline = start + timeoutNanos;
        long nextLook = start + LIVENESS_NANOS;
        for (int attempt = 0;; attempt++) {
            long ticket = bell.ticket();
            if (word.getAsLong() >= want) {
                return;
            }
            checkFailures(op, peer, counters);
            if (onFailure != OnPeerFailure.IGNORE && peer != rank && blocks[peer].failed() >= want) {
                if (onFailure == OnPeerFailure.DONE) {
                    return;
                }
                rootCause(op, peer, counters);
                throw new EpException(op + " on rank " + rank + " failed: peer " + peer + " failed its call #" + want
                        + " (" + blocks[peer].note() + "); " + counters.get());
            }
            long now = System.nanoTime();
            if (crossProcess && now - nextLook >= 0) {
                checkAlive(op, peer, counters);
                nextLook = now + LIVENESS_NANOS;
            }
            if (now - deadline >= 0) {
                throw new EpTimeoutException(op, rank, peer, counters.get(), timeoutMillis);
            }
            if (!bell.sleep(ticket, deadline - now, attempt)) {
                // A failing rank aborts the group, then interrupts the others: the abort is the news.
                throwIfAborted(op);
                throw new EpException(op + " on rank " + rank + " was interrupted while waiting for peer " + peer,
                        new InterruptedException());
            }
        }
    }

    /** The buffer's timeout, in nanoseconds. */
    long timeoutNanos() {
        return timeoutNanos;
    }

    /** Whether this rank's group, or any peer's, was aborted. */
    boolean anyAborted() {
        if (abortCause.get() != null) {
            return true;
        }
        for (int q = 0; q < blocks.length; q++) {
            if (q != rank && blocks[q].aborted()) {
                return true;
            }
        }
        return false;
    }

    /** Fails at once when this rank's calls can no longer complete (see the class comment). */
    void checkFailures(String op, int peer, Supplier<String> counters) {
        throwIfAborted(op);
        if (groupClosed.getAsBoolean()) {
            throw new IllegalStateException(op + " on rank " + rank + ": the cpu group was closed");
        }
        if (selfClosed.getAsBoolean()) {
            throw new IllegalStateException(op + " on rank " + rank + ": EpBuffer of rank " + rank
                    + " was closed while it waited");
        }
        int dead = deadPeer;
        if (dead >= 0) {
            throw died(op, dead, peer, counters);
        }
        for (int q = 0; q < blocks.length; q++) {
            if (q != rank && blocks[q].aborted()) { // before "closed": an aborted rank closes soon after
                rootCause(op, peer, counters);
                throw new EpException(op + " on rank " + rank + " aborted: rank " + q + " aborted its group ("
                        + blocks[q].note() + ")");
            }
        }
        if (peer != rank && blocks[peer].state() == ControlBlock.STATE_CLOSED) {
            rootCause(op, peer, counters);
            throw new EpException(op + " on rank " + rank + ": peer " + peer
                    + " closed its buffer while this rank waited for it (" + counters.get() + ")");
        }
    }

    /** Fails at once when this rank's group was aborted. */
    void throwIfAborted(String op) {
        Throwable cause = abortCause.get();
        if (cause != null) {
            throw new EpException(op + " on rank " + rank + " aborted: the group was aborted by " + cause, cause);
        }
    }

    /**
     * Before failing because of what a peer did (it failed, closed or aborted), across processes:
     * when that is because some rank died, the dead rank is the news.
     */
    private void rootCause(String op, int peer, Supplier<String> counters) {
        if (crossProcess) {
            checkAlive(op, peer, counters);
        }
    }

    /** Whether the process of rank {@code q} lives (a rank of this process always does). */
    boolean isAlive(int q) {
        ControlBlock b = blocks[q];
        return b.pid() == ProcessHandle.current().pid() || Liveness.isAlive(b.pid(), b.start());
    }

    /**
     * Checks that every peer's process lives, the awaited one first; a dead one ends every wait from
     * now on. A peer that closed its buffer left (its process may have ended since): not dead.
     */
    private void checkAlive(String op, int peer, Supplier<String> counters) {
        for (int i = 0; i < blocks.length; i++) {
            int q = (peer + i) % blocks.length;
            if (q == rank || blocks[q].state() == ControlBlock.STATE_CLOSED || isAlive(q)) {
                continue;
            }
            deadPeer = q;
            throw died(op, q, peer, counters);
        }
    }

    private PeerDiedException died(String op, int dead, int peer, Supplier<String> counters) {
        return new PeerDiedException(op, rank, dead, blocks[dead].pid(),
                (dead == peer ? "" : "while this rank waited for peer " + peer + ": ") + counters.get());
    }
}
