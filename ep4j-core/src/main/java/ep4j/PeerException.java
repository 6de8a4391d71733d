package ep4j;

/**
 * A collective call on one rank failed because of one peer: it did not answer in time
 * ({@link EpTimeoutException}) or its process died ({@link PeerDiedException}). Names the
 * operation, the rank that waited and the peer, so a caller can act on the peer (restart it,
 * report it) without parsing the message.
 */
public abstract sealed class PeerException extends EpException permits EpTimeoutException, PeerDiedException {
    private static final long serialVersionUID = 1L;

    /** The call that was waiting. */
    private final String operation;
    /** The rank that waited. */
    private final int rank;
    /** The rank waited for, or -1. */
    private final int peer;

    PeerException(String message, String operation, int rank, int peer) {
        super(message);
        this.operation = operation;
        this.rank = rank;
        this.peer = peer;
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
     * The peer the call failed on.
     *
     * @return its rank, or -1 when not one peer (a timeout of the rank's own GPU stream)
     */
    public int peer() {
        return peer;
    }
}
