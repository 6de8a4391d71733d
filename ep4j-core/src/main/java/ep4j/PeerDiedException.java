package ep4j;

/**
 * A peer's process died (killed, crashed) while this rank waited for it in a collective call:
 * told apart from a peer that is only slow ({@link EpTimeoutException}), and raised as soon as it
 * is seen, well within the buffer's timeout. Names the operation, this rank, the dead rank and
 * its process id. The group is broken: close it and form a new one.
 */
public final class PeerDiedException extends EpException {
    private static final long serialVersionUID = 1L;

    /** The call that was waiting. */
    private final String operation;
    /** The rank that waited. */
    private final int rank;
    /** The rank whose process died. */
    private final int peer;
    /** That process's id. */
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
        super(operation + " on rank " + rank + " failed: rank " + peer + " (pid " + pid + ") died (" + waiting + ")");
        this.operation = operation;
        this.rank = rank;
        this.peer = peer;
        this.pid = pid;
    }

    /**
     * The call that was waiting.
     *
     * @return its name, e.g. "dispatch"
     */
    public String operation() {
        return operation;
    }

    /**
     * The rank that waited.
     *
     * @return the rank
     */
    public int rank() {
        return rank;
    }

    /**
     * The rank whose process died.
     *
     * @return the dead rank
     */
    public int peer() {
        return peer;
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
