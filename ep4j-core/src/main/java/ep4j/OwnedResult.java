package ep4j;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Base of the results that own their tensors: closing the result frees them (twice is
 * harmless), and reading a closed result is an {@link IllegalStateException}.
 */
public abstract sealed class OwnedResult implements AutoCloseable
        permits DispatchLayout, Dispatched, DispatchHandle, Combined, LowLatencyCombined {
    private final List<AutoCloseable> owned;
    private final AtomicBoolean closed = new AtomicBoolean();

    protected OwnedResult(AutoCloseable... owned) {
        this.owned = java.util.Arrays.stream(owned).filter(Objects::nonNull).toList();
    }

    protected final <T> T open(T value) {
        if (closed.get()) {
            throw new IllegalStateException(getClass().getSimpleName() + " was closed");
        }
        return value;
    }

    public final boolean isClosed() {
        return closed.get();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        RuntimeException first = null;
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException re ? re : new EpException("close failed", e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
