package ep4j;

/**
 * A call was rejected before anything changed: names the argument, the value seen and what was
 * expected, so that the message alone says what to fix.
 */
public final class InvalidArgumentException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String argument;
    private final String value;
    private final String expected;

    public InvalidArgumentException(String argument, Object value, String expected) {
        super(argument + " = " + value + ": expected " + expected);
        this.argument = argument;
        this.value = String.valueOf(value);
        this.expected = expected;
    }

    public String argument() {
        return argument;
    }

    public String value() {
        return value;
    }

    public String expected() {
        return expected;
    }
}
