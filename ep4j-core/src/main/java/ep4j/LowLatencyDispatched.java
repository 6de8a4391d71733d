package ep4j;

import java.util.function.BooleanSupplier;

/**
 * What a low-latency dispatch delivers, expert-major with fixed capacity (DESIGN 2.4). The
 * tensors are views of the buffer: valid until two more low-latency dispatches have run, and
 * readable only once received (at once without a hook, after {@code hook().receive()} with one).
 */
public final class LowLatencyDispatched {
    private final Tensor x;
    private final Tensor scales;
    private final Tensor recvCount;
    private final LowLatencyHandle handle;
    private final RecvHook hook;
    private final BooleanSupplier received;

    public LowLatencyDispatched(Tensor x, Tensor scales, Tensor recvCount, LowLatencyHandle handle, RecvHook hook,
            BooleanSupplier received) {
        this.x = x;
        this.scales = scales;
        this.recvCount = recvCount;
        this.handle = handle;
        this.hook = hook;
        this.received = received;
    }

    private <T> T ready(T value) {
        if (!handle.isValid()) {
            handle.sourceToken();
        }
        if (!received.getAsBoolean()) {
            throw new IllegalStateException("low-latency dispatch not received yet: call hook().receive() first");
        }
        return value;
    }

    /** {@code [L, R*N, H]}: bf16, or fp8 e4m3. */
    public Tensor x() {
        return ready(x);
    }

    /** {@code [L, R*N, H/128]} float32, or {@code [L, R*N, ceil(H/512)]} int32 UE8M0; null for bf16. */
    public Tensor scales() {
        return ready(scales);
    }

    /** {@code [L]} int32: valid rows of each local expert. */
    public Tensor recvCount() {
        return ready(recvCount);
    }

    public LowLatencyHandle handle() {
        return handle;
    }

    /** The receive half, or null when the call was made without {@code returnRecvHook}. */
    public RecvHook hook() {
        return hook;
    }
}
