package ep4j;

import ep4j.spi.Closing;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Base of the results of the {@link EpBuffer} calls. A result is {@link AutoCloseable}: closing
 * it frees what it owns (its tensors go back to the buffer's memory pool) and ends every read
 * of it. Closing twice is harmless; reading a closed result, or a tensor it returned, is an
 * {@link IllegalStateException}. A result not closed by the user is freed when its buffer is
 * closed.
 */
public abstract sealed class OwnedResult implements AutoCloseable
        permits DispatchLayout, Dispatched, DispatchHandle, Combined, LowLatencyDispatched, LowLatencyCombined {
    private final List<AutoCloseable> owned = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    OwnedResult(AutoCloseable... owned) {
        java.util.Arrays.stream(owned).filter(Objects::nonNull).forEach(this.owned::add);
    }

    /** Takes ownership of {@code resource} as well (a copy {@link Dispatched#keep()} made). */
    final void adopt(AutoCloseable resource) {
        owned.add(resource);
    }

    final <T> T open(T value) {
        if (closed.get()) {
            throw new IllegalStateException(getClass().getSimpleName() + " was closed");
        }
        return value;
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public final boolean isClosed() {
        return closed.get();
    }

    /**
     * Frees what this result owns; twice is harmless. Every owned resource is closed even when
     * one fails; the first failure is thrown with the others attached as suppressed.
     *
     * @throws EpException when freeing memory failed (the result is closed nonetheless)
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        Closing.closeAllOrThrow(owned);
    }
}
