package ep4j.cpu.control;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import java.util.Arrays;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The rendezvous of the ranks of one set of CPU buffers (one allocate call): every collective call of a rank is a
 * numbered {@link Post} (its sequence number on that buffer), and ranks wait for each other's
 * posts, reads and settlements here, under one monitor, each wait bounded by the buffer's
 * timeout. A call whose peer posted a different call under the same number is a mismatch, not a
 * silent wrong result; an aborted group fails every waiter at once.
 */
public final class Exchange {
    /** Posts kept per rank; a peer can run ahead by a few calls at most (a call returns once its post was read). */
    static final int RING = 64;

    private final Supplier<Throwable> abortCause;
    private final BooleanSupplier groupClosed;
    private final int ranks;
    private final long timeoutNanos;
    private final long timeoutMillis;
    private final Object lock = new Object();

    private final long[] posted;
    private final Post[][] ring;
    private final boolean[] closed;
    /** Low-latency dispatch generations every rank has settled: all generations up to it are received or stale there. */
    private final long[] llSettled;
    /** Per rank and slot: the highest call number of a low-latency combine on that slot the rank has settled. */
    private final long[][] llcSettled;

    /**
     * An exchange with no post yet.
     *
     * @param ranks        the group size
     * @param timeoutNanos how long one wait for the peers may take
     * @param abortCause   the group's abort cause, null while it is not aborted
     * @param groupClosed  whether the group was closed
     */
    public Exchange(int ranks, long timeoutNanos, Supplier<Throwable> abortCause, BooleanSupplier groupClosed) {
        this.abortCause = abortCause;
        this.groupClosed = groupClosed;
        this.ranks = ranks;
        this.timeoutNanos = timeoutNanos;
        this.timeoutMillis = Math.max(1, timeoutNanos / 1_000_000);
        this.posted = new long[ranks];
        this.ring = new Post[ranks][RING];
        this.closed = new boolean[ranks];
        this.llSettled = new long[ranks];
        this.llcSettled = new long[ranks][2];
        Arrays.fill(llSettled, -2);
        for (long[] s : llcSettled) {
            Arrays.fill(s, -1);
        }
    }

    /** One collective call of one rank: its number, what it is, and what the peers read. */
    public static final class Post {
        final int rank;
        final long seq;
        final String signature;
        volatile Object payload;
        final boolean[] readBy;
        int reads;

        /**
         * One call of one rank.
         *
         * @param rank      the posting rank
         * @param seq       its call number on the buffer
         * @param signature what the call is, compared between ranks
         * @param payload   what the peers read (the path's own record)
         * @param ranks     the group size
         */
        public Post(int rank, long seq, String signature, Object payload, int ranks) {
            this.rank = rank;
            this.seq = seq;
            this.signature = signature;
            this.payload = payload;
            this.readBy = new boolean[ranks];
        }

        /** What the posting rank published; null once every rank has read it. */
        public Object payload() {
            return payload;
        }

        /** The call number. */
        public long seq() {
            return seq;
        }
    }

    /** Publishes this rank's call {@code p} (its number follows the rank's previous post). */
    public void post(Post p) {
        synchronized (lock) {
            if (p.seq != posted[p.rank] + 1) {
                throw new IllegalStateException("rank " + p.rank + " posted call #" + p.seq + " after #" + posted[p.rank]);
            }
            ring[p.rank][(int) (p.seq % RING)] = p;
            posted[p.rank] = p.seq;
            lock.notifyAll();
        }
    }

    /** The buffer of {@code rank} was closed: peers waiting for it fail at once. */
    public void markClosed(int rank) {
        synchronized (lock) {
            closed[rank] = true;
            lock.notifyAll();
        }
    }

    /** Wakes every waiter to look at the group again (abort, close). */
    public void wake() {
        synchronized (lock) {
            lock.notifyAll();
        }
    }

    /**
     * Waits until every rank posted call {@code seq} and checks that it is the same call
     * (signature) everywhere; returns the posts in rank order (this rank's included).
     */
    public Post[] awaitPosts(RankRuntime self, String op, long seq, String signature) {
        int rank = self.rank;
        Post[] out = new Post[ranks];
        long deadline = System.nanoTime() + timeoutNanos;
        synchronized (lock) {
            for (int p = 0; p < ranks; p++) {
                while (posted[p] < seq) {
                    int peer = p;
                    waitLocked(self, op, p, deadline, () -> "peer " + peer + " posted call #" + posted[peer]
                            + ", this rank waits for call #" + seq + " (" + signature + ")");
                }
                Post post = ring[p][(int) (seq % RING)];
                if (post == null || post.seq != seq) {
                    throw new EpException("collective calls out of step on rank " + rank + ": peer " + p
                            + " is more than " + RING + " calls ahead of call #" + seq + " (" + signature + ")");
                }
                if (!post.signature.equals(signature)) {
                    throw new EpException("collective mismatch on rank " + rank + ": call #" + seq + " is " + signature
                            + " here but " + post.signature + " on rank " + p
                            + " (every rank must make the same calls on a buffer, in the same order)");
                }
                out[p] = post;
            }
        }
        return out;
    }

    /** This rank has finished reading what {@code post} published. */
    public void markRead(Post post, int reader) {
        synchronized (lock) {
            if (!post.readBy[reader]) {
                post.readBy[reader] = true;
                post.reads++;
                if (post.reads == ranks) {
                    lock.notifyAll();
                }
            }
        }
    }

    /** Waits until every rank has read this rank's post (so its inputs may change again). */
    public void awaitReads(RankRuntime self, String op, Post mine) {
        long deadline = System.nanoTime() + timeoutNanos;
        synchronized (lock) {
            for (int p = 0; p < ranks; p++) {
                while (!mine.readBy[p]) {
                    int peer = p;
                    waitLocked(self, op, p, deadline, () -> "peer " + peer + " has not finished reading call #" + mine.seq
                            + " (" + mine.signature + "); " + mine.reads + " of " + ranks + " ranks done");
                }
            }
            mine.payload = null;
        }
    }

    /** Every low-latency dispatch of {@code rank} up to {@code watermark} is received or stale there. */
    public void settleLowLatencyDispatch(int rank, long watermark) {
        synchronized (lock) {
            if (watermark > llSettled[rank]) {
                llSettled[rank] = watermark;
                lock.notifyAll();
            }
        }
    }

    /** Waits until every peer has received (or dropped) this rank's low-latency dispatch {@code generation}. */
    public void awaitLowLatencyDispatchSettled(RankRuntime self, String op, long generation) {
        long deadline = System.nanoTime() + timeoutNanos;
        synchronized (lock) {
            for (int p = 0; p < ranks; p++) {
                while (llSettled[p] < generation) {
                    int peer = p;
                    waitLocked(self, op, p, deadline, () -> "peer " + peer + " settled low-latency dispatches up to #"
                            + llSettled[peer] + ", this rank needs #" + generation + " settled to reuse its send buffer");
                }
            }
        }
    }

    /** {@code rank} received (or dropped) every low-latency combine on {@code slot} up to call {@code seq}. */
    public void settleLowLatencyCombine(int rank, int slot, long seq) {
        synchronized (lock) {
            if (seq > llcSettled[rank][slot]) {
                llcSettled[rank][slot] = seq;
                lock.notifyAll();
            }
        }
    }

    /** Waits until every peer has received (or dropped) this rank's low-latency combine call {@code seq} on {@code slot}. */
    public void awaitLowLatencyCombineSettled(RankRuntime self, String op, int slot, long seq) {
        long deadline = System.nanoTime() + timeoutNanos;
        synchronized (lock) {
            for (int p = 0; p < ranks; p++) {
                while (llcSettled[p][slot] < seq) {
                    int peer = p;
                    waitLocked(self, op, p, deadline, () -> "peer " + peer + " settled low-latency combines on slot " + slot
                            + " up to call #" + llcSettled[peer][slot] + ", this rank needs call #" + seq + " settled");
                }
            }
        }
    }

    /** One wait step under the lock: fails on abort, close and timeout. */
    private void waitLocked(RankRuntime self, String op, int peer, long deadline,
            java.util.function.Supplier<String> counters) {
        throwIfAborted(self, op);
        if (groupClosed.getAsBoolean()) {
            throw new IllegalStateException(op + " on rank " + self.rank + ": the cpu group was closed");
        }
        if (self.isClosed()) {
            throw new IllegalStateException(op + " on rank " + self.rank + ": EpBuffer of rank " + self.rank
                    + " was closed while it waited");
        }
        if (peer != self.rank && closed[peer]) {
            throw new EpException(op + " on rank " + self.rank + ": peer " + peer
                    + " closed its buffer while this rank waited for it (" + counters.get() + ")");
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw new EpTimeoutException(op, self.rank, peer, counters.get(), timeoutMillis);
        }
        try {
            lock.wait(Math.max(1, left / 1_000_000), 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            // A failing rank aborts the group, then interrupts the others: the abort is the news.
            throwIfAborted(self, op);
            throw new EpException(op + " on rank " + self.rank + " was interrupted while waiting for peer " + peer, e);
        }
    }

    private void throwIfAborted(RankRuntime self, String op) {
        Throwable cause = abortCause.get();
        if (cause != null) {
            throw new EpException(op + " on rank " + self.rank + " aborted: the group was aborted by " + cause, cause);
        }
    }
}
