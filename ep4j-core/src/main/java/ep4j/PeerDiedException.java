package ep4j;

/**
 * A peer's process died (killed, crashed) while this rank waited for it in a collective call:
 * told apart from a peer that is only slow ({@link EpTimeoutException}), and raised as soon as it
 * is seen, well within the buffer's timeout. Names the operation, this rank, the dead rank and
 * its process id. The group is broken: close it and form a new one.
 */
public final class PeerDiedException extends PeerException {
    private static final long serialVersionUID = 1L;

    /** The dead rank's process id. */
    private final long pid;

    /**
     * A peer's process died.
     *
     * @param operation the call, e.g. "dispatch"
     * @param rank      the rank that waited
     * @param peer      the rank whose process died
     * @param pid       that process's id
     * @param waiting   what this rank was waiting for, with the counters seen
     */
    public PeerDiedException(String operation, int rank, int peer, long pid, String waiting) {
        super(operation + " on rank " + rank + " failed: rank " + peer + " (pid " + pid + ") died (" + waiting + ")",
                operation, rank, peer);
        this.pid = pid;
    }

    /**
     * The dead rank's process id.
     *
     * @return the pid
     */
    public long pid() {
        return pid;
    }
}
