package ep4j;

/**
 * The receive half of a low-latency call made with {@code returnRecvHook}. The call itself only
 * sends; {@link #receive()} waits for the peers' data and completes the results. Between the two
 * the backend holds no SM, so the caller can overlap compute. It may be called from any thread.
 */
@FunctionalInterface
public interface RecvHook {
    /**
     * Receives; calling it again does nothing.
     *
     * @throws EpTimeoutException    when a peer did not send in time
     * @throws EpException           on an aborted group or a device error
     * @throws IllegalStateException when the call went stale (its slot was reused by later calls)
     *                               or the buffer was closed
     */
    void receive();
}
