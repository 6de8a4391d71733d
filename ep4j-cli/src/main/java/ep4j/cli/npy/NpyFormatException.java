package ep4j.cli.npy;

/** A .npy file that ep4j cannot read, or an array of the wrong type or shape; the message names the file. */
public final class NpyFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NpyFormatException(String source, String message) {
        super(source + ": " + message);
    }
}
