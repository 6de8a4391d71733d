package ep4j.cpu;

import ep4j.EpException;
import ep4j.EpTimeoutException;

/**
 * The rendezvous of the ranks of one {@link CpuBuffers}: every collective call of a rank is a
 * numbered {@link Post} (its sequence number on that buffer), and ranks wait for each other's
 * posts, reads and settlements here, under one monitor, each wait bounded by the buffer's
 * timeout. A call whose peer posted a different call under the same number is a mismatch, not a
 * silent wrong result; an aborted group fails every waiter at once.
 */
final class Exchange {
    /** Posts kept per rank; a peer can run ahead by a few calls at most (see CpuBuffer). */
    static final int RING = 64;

    private final CpuGroup group;
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

    Exchange(CpuGroup group, int ranks, long timeoutNanos) {
        this.group = group;
        this.ranks = ranks;
        this.timeoutNanos = timeoutNanos;
        this.timeoutMillis = Math.max(1, timeoutNanos / 1_000_000);
        this.posted = new long[ranks];
        this.ring = new Post[ranks][RING];
        this.closed = new boolean[ranks];
        this.llSettled = new long[ranks];
        this.llcSettled = new long[ranks][2];
        java.util.Arrays.fill(llSettled, -2);
        for (long[] s : llcSettled) {
            java.util.Arrays.fill(s, -1);
        }
    }

    /** One collective call of one rank: its number, what it is, and what the peers read. */
    static final class Post {
        final int rank;
        final long seq;
        final String signature;
        volatile Object payload;
        final boolean[] readBy;
        int reads;

        Post(int rank, long seq, String signature, Object payload, int ranks) {
            this.rank = rank;
            this.seq = seq;
            this.signature = signature;
            this.payload = payload;
            this.readBy = new boolean[ranks];
        }
    }

    long timeoutMillis() {
        return timeoutMillis;
    }

    void post(Post p) {
        synchronized (lock) {
            if (p.seq != posted[p.rank] + 1) {
                throw new IllegalStateException("rank " + p.rank + " posted call #" + p.seq + " after #" + posted[p.rank]);
            }
            ring[p.rank][(int) (p.seq % RING)] = p;
            posted[p.rank] = p.seq;
            lock.notifyAll();
        }
    }

    void markClosed(int rank) {
        synchronized (lock) {
            closed[rank] = true;
            lock.notifyAll();
        }
    }

    void wake() {
        synchronized (lock) {
            lock.notifyAll();
        }
    }

    /**
     * Waits until every rank posted call {@code seq} and checks that it is the same call
     * (signature) everywhere; returns the posts in rank order (this rank's included).
     */
    Post[] awaitPosts(CpuBuffer self, String op, long seq, String signature) {
        int rank = self.rank();
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
    void markRead(Post post, int reader) {
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
    void awaitReads(CpuBuffer self, String op, Post mine) {
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

    void settleLowLatencyDispatch(int rank, long watermark) {
        synchronized (lock) {
            if (watermark > llSettled[rank]) {
                llSettled[rank] = watermark;
                lock.notifyAll();
            }
        }
    }

    /** Waits until every peer has received (or dropped) this rank's low-latency dispatch {@code generation}. */
    void awaitLowLatencyDispatchSettled(CpuBuffer self, String op, long generation) {
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

    void settleLowLatencyCombine(int rank, int slot, long seq) {
        synchronized (lock) {
            if (seq > llcSettled[rank][slot]) {
                llcSettled[rank][slot] = seq;
                lock.notifyAll();
            }
        }
    }

    /** Waits until every peer has received (or dropped) this rank's low-latency combine call {@code seq} on {@code slot}. */
    void awaitLowLatencyCombineSettled(CpuBuffer self, String op, int slot, long seq) {
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
    private void waitLocked(CpuBuffer self, String op, int peer, long deadline,
            java.util.function.Supplier<String> counters) {
        throwIfAborted(self, op);
        if (group.isClosed()) {
            throw new IllegalStateException(op + " on rank " + self.rank() + ": the cpu group was closed");
        }
        if (self.isClosed()) {
            throw new IllegalStateException(op + " on rank " + self.rank() + ": EpBuffer of rank " + self.rank()
                    + " was closed while it waited");
        }
        if (peer != self.rank() && closed[peer]) {
            throw new EpException(op + " on rank " + self.rank() + ": peer " + peer
                    + " closed its buffer while this rank waited for it (" + counters.get() + ")");
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
            throw new EpTimeoutException(op, self.rank(), peer, counters.get(), timeoutMillis);
        }
        try {
            lock.wait(Math.max(1, left / 1_000_000), 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            // A failing rank aborts the group, then interrupts the others: the abort is the news.
            throwIfAborted(self, op);
            throw new EpException(op + " on rank " + self.rank() + " was interrupted while waiting for peer " + peer, e);
        }
    }

    private void throwIfAborted(CpuBuffer self, String op) {
        Throwable cause = group.abortCause();
        if (cause != null) {
            throw new EpException(op + " on rank " + self.rank() + " aborted: the group was aborted by " + cause, cause);
        }
    }
}
