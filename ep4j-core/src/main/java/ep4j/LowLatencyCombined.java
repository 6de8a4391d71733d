package ep4j;

import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The result of a low-latency combine (DESIGN 2.5): for each token, the sum over its top-k slots
 * of {@code weight * y[expert][row]}, fused multiply-adds in float32 in slot order, rounded once
 * to bf16. Unlike normal combine, the weights <b>are</b> applied here. Owns its output tensor,
 * unless the caller passed one ({@link LowLatencyCombineArgs#out}): closing the result frees an
 * owned output and ends reads of it.
 */
public final class LowLatencyCombined extends OwnedResult {
    private final Tensor x;
    private final @Nullable RecvHook hook;
    private final BooleanSupplier received;
    private final EpEvent event;

    LowLatencyCombined(Tensor x, boolean ownsX, @Nullable RecvHook hook, BooleanSupplier received, EpEvent event) {
        super(ownsX ? x : null);
        this.x = x;
        this.hook = hook;
        this.received = received;
        this.event = event;
    }

    /**
     * The combined tokens.
     *
     * @return {@code [T, H]} bf16
     * @throws IllegalStateException when the result was closed, or when the call was made with
     *         {@link LowLatencyCombineArgs#returnRecvHook} and {@link #hook()} has not received yet
     */
    public Tensor x() {
        open(this);
        if (!received.getAsBoolean()) {
            throw new IllegalStateException("low-latency combine not received yet: call hook().receive() first");
        }
        return x;
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

    /**
     * Completion of the call made without a hook ({@link EpEvent#completed()} when it was
     * synchronous); with a hook, the event {@link RecvHook#receive()} returns completes it.
     *
     * @return the event
     */
    public EpEvent event() {
        return event;
    }
}
