package ep4j;

/**
 * A peer did not answer within the buffer's timeout ({@link BufferSpec#timeout}). Names the
 * operation, this rank, the peer that was waited for, and the counters seen (what arrived
 * against what was expected). A GPU buffer that timed out refuses further calls (its peers'
 * state is unknown); allocate new buffers.
 */
public final class EpTimeoutException extends EpException {
    private static final long serialVersionUID = 1L;

    /** The call that timed out. */
    private final String operation;
    /** The rank that waited. */
    private final int rank;
    /** The rank waited for, or -1. */
    private final int peer;

    /**
     * A peer did not answer in time.
     *
     * @param operation     the call, e.g. "dispatch"
     * @param rank          the rank that waited
     * @param peer          the rank waited for, or -1 when not one peer (the rank's own GPU stream)
     * @param countersSeen  what arrived against what was expected
     * @param timeoutMillis the timeout, in milliseconds
     */
    public EpTimeoutException(String operation, int rank, int peer, String countersSeen, long timeoutMillis) {
        super(operation + " timed out after " + timeoutMillis + " ms on rank " + rank + " waiting for peer " + peer
                + " (" + countersSeen + ")");
        this.operation = operation;
        this.rank = rank;
        this.peer = peer;
    }

    /**
     * The call that timed out.
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
     * The rank waited for.
     *
     * @return the peer, or -1 when not one peer
     */
    public int peer() {
        return peer;
    }
}
