package ep4j.cuda.control;

import ep4j.process.Liveness;

/**
 * Whether the process of a peer rank died, for a group spread over processes (one process per
 * GPU): the peers' pids and start times, learned when the heaps were exchanged, and
 * {@link Liveness} to ask the operating system. A host wait that has lasted a while asks it now
 * and then, so a killed peer is reported within milliseconds instead of at the timeout, while a
 * call that completes quickly never pays for a look at /proc.
 */
public final class PeerWatch {
    /** A group in one process: its ranks live and die together. */
    public static final PeerWatch NONE = new PeerWatch(-1, new long[0], new long[0]);

    /** A wait asks only after it has lasted this long ... */
    static final long QUIET_NANOS = 1_000_000;
    /** ... and then at most this often. */
    static final long INTERVAL_NANOS = 2_000_000;

    private final int self;
    private final long[] pids;
    private final long[] starts;
    /** When the next look is due (System.nanoTime); racy by design, a late or extra look is harmless. */
    private long nextLook;

    /**
     * @param self   this rank
     * @param pids   every rank's process id, by rank
     * @param starts every rank's process start time ({@link Liveness#selfStart()} there; 0: unknown)
     */
    public PeerWatch(int self, long[] pids, long[] starts) {
        if (pids.length != starts.length) {
            throw new IllegalArgumentException(pids.length + " pids but " + starts.length + " start times");
        }
        this.self = self;
        this.pids = pids.clone();
        this.starts = starts.clone();
    }

    /** Whether there are peers in other processes to watch. */
    public boolean active() {
        return pids.length > 0;
    }

    /**
     * The first peer whose process is gone, asked only when a look is due: the wait began at
     * {@code waitStart} and it is {@code now} (both System.nanoTime).
     *
     * @return the dead peer's rank, or -1 (none dead, or no look due yet)
     */
    public int deadPeer(long waitStart, long now) {
        if (pids.length == 0 || now - waitStart < QUIET_NANOS || now - nextLook < 0) {
            return -1;
        }
        nextLook = now + INTERVAL_NANOS;
        return deadPeerNow();
    }

    /** The first peer whose process is gone, asked now; -1 when every peer lives (or none is watched). */
    public int deadPeerNow() {
        for (int r = 0; r < pids.length; r++) {
            if (r != self && !Liveness.isAlive(pids[r], starts[r])) {
                return r;
            }
        }
        return -1;
    }

    /** The process id of rank {@code rank}. */
    public long pid(int rank) {
        return pids[rank];
    }
}
