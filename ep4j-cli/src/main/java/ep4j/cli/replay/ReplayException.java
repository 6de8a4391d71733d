package ep4j.cli.replay;

/** A replay input that cannot be used; the message names the file and what is wrong. */
public final class ReplayException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ReplayException(String message) {
        super(message);
    }
}
