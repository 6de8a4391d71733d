package ep4j;

import org.jspecify.annotations.Nullable;

/**
 * The root of every exception ep4j throws for a failure that is not a bad argument (those are
 * {@link InvalidArgumentException}): a peer that failed or timed out, an aborted group, a
 * collective mismatch, a device error, memory that cannot be had.
 */
public class EpException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * A failure without an underlying exception.
     *
     * @param message what failed, naming the operation and the rank where it can
     */
    public EpException(String message) {
        super(message);
    }

    /**
     * A failure caused by another.
     *
     * @param message what failed
     * @param cause   the failure underneath, or null
     */
    public EpException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
