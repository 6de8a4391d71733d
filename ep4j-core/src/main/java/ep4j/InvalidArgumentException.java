package ep4j;

import org.jspecify.annotations.Nullable;

/**
 * A call was rejected before anything changed: names the argument, the value seen and what was
 * expected, so that the message alone says what to fix, e.g.
 * {@code numWorstTokens = 99999: expected 0 (exact size) or a row count of 1 to 8192 (...)}.
 */
public final class InvalidArgumentException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** The argument's name. */
    private final String argument;
    /** The value seen, as a string. */
    private final String value;
    /** What was expected. */
    private final String expected;

    /**
     * A rejected argument; the message is {@code "argument = value: expected ..."}.
     *
     * @param argument the argument's name, with a path where it helps ("topkIdx[3][1]", "x.shape")
     * @param value    the value seen (or a description of it); may be null
     * @param expected what was expected
     */
    public InvalidArgumentException(String argument, @Nullable Object value, String expected) {
        super(argument + " = " + value + ": expected " + expected);
        this.argument = argument;
        this.value = String.valueOf(value);
        this.expected = expected;
    }

    /**
     * The argument that was rejected.
     *
     * @return its name
     */
    public String argument() {
        return argument;
    }

    /**
     * The value seen.
     *
     * @return {@link String#valueOf(Object)} of it ("null" for null)
     */
    public String value() {
        return value;
    }

    /**
     * What was expected.
     *
     * @return a description
     */
    public String expected() {
        return expected;
    }
}
