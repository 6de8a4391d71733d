package ep4j;

/**
 * A peer did not answer within the group's timeout. Names the operation, this rank, the peer
 * that was waited for, and the counters seen (what arrived against what was expected).
 */
public final class EpTimeoutException extends EpException {
    private static final long serialVersionUID = 1L;

    private final String operation;
    private final int rank;
    private final int peer;

    public EpTimeoutException(String operation, int rank, int peer, String countersSeen, long timeoutMillis) {
        super(operation + " timed out after " + timeoutMillis + " ms on rank " + rank + " waiting for peer " + peer
                + " (" + countersSeen + ")");
        this.operation = operation;
        this.rank = rank;
        this.peer = peer;
    }

    public String operation() {
        return operation;
    }

    public int rank() {
        return rank;
    }

    public int peer() {
        return peer;
    }
}
