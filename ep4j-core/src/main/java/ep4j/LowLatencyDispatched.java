package ep4j;

import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * What a low-latency dispatch delivers (DESIGN 2.4), expert-major with a fixed capacity of
 * {@code R * N} rows per local expert ({@code N} = the buffer's low-latency
 * {@code maxTokensPerRank}). Rows of one local expert are grouped by source rank ascending, then
 * source token ascending; rows past {@link #recvCount()} are undefined. A token that lists one
 * expert in several slots is sent to it once.
 *
 * <p>The tensors are views of the buffer's double-buffered memory, not owned by this result:
 * they stay readable until two more low-latency dispatches have run on the buffer (then reading
 * is an {@link IllegalStateException}), and only once received (at once without a hook, after
 * {@code hook().receive()} with one). Closing this result frees nothing; it ends reads of it and
 * of the tensors it returned. Its {@link #handle()} stays valid for combine.
 */
public final class LowLatencyDispatched extends OwnedResult {
    private final Tensor x;
    private final @Nullable Tensor scales;
    private final Tensor recvCount;
    private final LowLatencyHandle handle;
    private final @Nullable RecvHook hook;
    private final BooleanSupplier received;
    private final EpEvent event;

    LowLatencyDispatched(Tensor x, @Nullable Tensor scales, Tensor recvCount, LowLatencyHandle handle,
            @Nullable RecvHook hook, BooleanSupplier received, EpEvent event) {
        // Views: closing them marks them closed and frees nothing.
        super(x, scales, recvCount);
        this.x = x;
        this.scales = scales;
        this.recvCount = recvCount;
        this.handle = handle;
        this.hook = hook;
        this.received = received;
        this.event = event;
    }

    /**
     * Completion of the call made without a hook ({@link EpEvent#completed()} when it was
     * synchronous); with a hook, the event {@link RecvHook#receive()} returns completes it.
     *
     * @return the event
     */
    public EpEvent event() {
        return event;
    }

    private <T> T ready(T value) {
        open(this);
        if (!handle.isValid()) {
            handle.sourceToken(); // throws, naming the stale call
        }
        if (!received.getAsBoolean()) {
            throw new IllegalStateException("low-latency dispatch not received yet: call hook().receive() first");
        }
        return value;
    }

    /**
     * The received tokens.
     *
     * @return {@code [L, R*N, H]}: bf16, or fp8 e4m3 when the call quantized
     * @throws IllegalStateException when closed, stale, or not received yet
     */
    public Tensor x() {
        return ready(x);
    }

    /**
     * The fp8 scales of the received tokens.
     *
     * @return {@code [L, R*N, H/128]} float32, or {@code [L, R*N, ceil(H/512)]} int32 of packed
     *         UE8M0 exponents; null for bf16
     * @throws IllegalStateException when closed, stale, or not received yet
     */
    public @Nullable Tensor scales() {
        return ready(scales);
    }

    /**
     * Valid rows of each local expert.
     *
     * @return {@code [L]} int32
     * @throws IllegalStateException when closed, stale, or not received yet
     */
    public Tensor recvCount() {
        return ready(recvCount);
    }

    /**
     * The routing of this call, for {@link EpBuffer#lowLatencyCombine}.
     *
     * @return the handle (valid until the buffer slot is reused, whether or not this result is closed)
     */
    public LowLatencyHandle handle() {
        return handle;
    }

    /**
     * The receive half of the call.
     *
     * @return the hook, or null when the call was made without {@code returnRecvHook} (it has
     *         received already)
     */
    public @Nullable RecvHook hook() {
        return hook;
    }
}
