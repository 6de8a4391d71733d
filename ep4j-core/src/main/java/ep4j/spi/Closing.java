package ep4j.spi;

import ep4j.EpException;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Closing several owned resources in order, going on after a failure: how a backend frees
 * what it holds (every resource has one owner, and one failure must not leak the rest). For
 * backend implementers.
 */
public final class Closing {
    private Closing() {
    }

    /**
     * Closes each non-null resource in order, even after failures.
     *
     * @param resources what to close, nulls skipped
     * @return the first failure (a checked one wrapped in an {@link EpException}) with the later
     *         ones attached as suppressed, or null when every resource closed
     */
    public static @Nullable RuntimeException closeAll(Iterable<? extends @Nullable AutoCloseable> resources) {
        RuntimeException first = null;
        for (AutoCloseable r : resources) {
            if (r == null) {
                continue;
            }
            try {
                r.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException re ? re : new EpException("close failed", e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        return first;
    }

    /**
     * As {@link #closeAll(Iterable)}.
     *
     * @param resources what to close, nulls skipped
     * @return the first failure with the later ones suppressed, or null
     */
    public static @Nullable RuntimeException closeAll(@Nullable AutoCloseable... resources) {
        return closeAll(Arrays.asList(resources));
    }

    /**
     * Closes each resource and throws the first failure (later ones suppressed), if any.
     *
     * @param resources what to close, nulls skipped
     * @throws RuntimeException the first failure
     */
    public static void closeAllOrThrow(Iterable<? extends @Nullable AutoCloseable> resources) {
        RuntimeException first = closeAll(resources);
        if (first != null) {
            throw first;
        }
    }

    /**
     * Cleanup after a failed creation: closes each resource and adds every failure to
     * {@code pending} as suppressed.
     *
     * @param pending   the failure being thrown
     * @param resources what was made before it, nulls skipped
     */
    public static void closeAllInto(Throwable pending, @Nullable AutoCloseable... resources) {
        RuntimeException failure = closeAll(resources);
        if (failure != null) {
            pending.addSuppressed(failure); // with the later failures suppressed in it
        }
    }
}
