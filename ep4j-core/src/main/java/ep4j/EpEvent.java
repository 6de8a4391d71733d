package ep4j;

/**
 * Completion of an asynchronous call. On a GPU it wraps a CUDA event recorded on the rank's
 * communication stream; device-side errors of the call (an out-of-range expert index found by a
 * kernel) are raised by {@link #await()}. It owns nothing.
 */
public interface EpEvent {
    /**
     * Blocks until the call's results are ready, then raises what the call found on the device.
     *
     * @throws InvalidArgumentException for bad content found by a kernel (an expert index out of range)
     * @throws EpTimeoutException       when a peer did not take part in time
     * @throws EpException              for any other device-side failure
     */
    void await();

    /**
     * Whether the call has completed, without waiting.
     *
     * @return true once complete
     */
    boolean isComplete();

    /**
     * An event that is already complete.
     *
     * @return the completed event (what synchronous calls return)
     */
    static EpEvent completed() {
        return CompletedEvent.INSTANCE;
    }
}
