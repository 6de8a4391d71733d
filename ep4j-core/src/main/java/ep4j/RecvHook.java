package ep4j;

/**
 * The receive half of a low-latency call made with {@code returnRecvHook}. The call itself only
 * sends; {@link #receive()} waits for the peers' data and completes the results. Between the two
 * the backend holds no SM, so the caller can overlap compute. Calling it twice is harmless.
 */
@FunctionalInterface
public interface RecvHook {
    void receive();
}
