package ep4j;

/** The result of a low-latency combine: {@code [T, H]} bf16 (owned unless the caller passed {@code out}). */
public final class LowLatencyCombined extends OwnedResult {
    private final Tensor x;
    private final RecvHook hook;
    private final java.util.function.BooleanSupplier received;

    public LowLatencyCombined(Tensor x, boolean ownsX, RecvHook hook, java.util.function.BooleanSupplier received) {
        super(ownsX ? x : null);
        this.x = x;
        this.hook = hook;
        this.received = received;
    }

    /** The combined tokens; after {@link #hook()}'s receive when one was asked for. */
    public Tensor x() {
        open(this);
        if (!received.getAsBoolean()) {
            throw new IllegalStateException("low-latency combine not received yet: call hook().receive() first");
        }
        return x;
    }

    /** The receive half, or null when the call was made without {@code returnRecvHook}. */
    public RecvHook hook() {
        return hook;
    }
}
