package ep4j;

/**
 * A peer did not answer within the buffer's timeout ({@link BufferSpec#timeout}). Names the
 * operation, this rank, the peer that was waited for, and the counters seen (what arrived
 * against what was expected). A GPU buffer that timed out refuses further calls (its peers'
 * state is unknown); allocate new buffers.
 */
public final class EpTimeoutException extends PeerException {
    private static final long serialVersionUID = 1L;

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
                + " (" + countersSeen + ")", operation, rank, peer);
    }
}
