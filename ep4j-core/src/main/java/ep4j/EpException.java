package ep4j;

/** The root of every exception ep4j throws for a failure that is not a bad argument. */
public class EpException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public EpException(String message) {
        super(message);
    }

    public EpException(String message, Throwable cause) {
        super(message, cause);
    }
}
