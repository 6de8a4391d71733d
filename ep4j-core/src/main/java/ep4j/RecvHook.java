package ep4j;

/**
 * The receive half of a low-latency call made with {@code returnRecvHook}. The call itself only
 * sends and returns; between the two halves the backend holds no SM, so the caller can overlap
 * compute. {@link #receive()} issues the receive half: on a GPU it is enqueued on the rank's
 * stream and returns in microseconds (kernels launched on that stream afterwards see the results;
 * the host waits with the returned event); the CPU backend receives before returning. It may be
 * called from any thread.
 */
@FunctionalInterface
public interface RecvHook {
    /**
     * Issues the receive half; calling it again does nothing and returns a completed event.
     *
     * @return the receive's completion: {@link EpEvent#await()} waits for it and raises what the
     *         device found (a peer that did not send in time, a poisoned call)
     * @throws EpTimeoutException    when a peer did not send in time (backends that receive at once)
     * @throws EpException           on an aborted group or a device error
     * @throws IllegalStateException when the call went stale (its slot was reused by later calls)
     *                               or the buffer was closed
     */
    EpEvent receive();
}
