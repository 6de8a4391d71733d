package ep4j.cpu.control;

/**
 * The data regions of a rank that its peers read, each a shared segment of its own, published
 * in the rank's control block (generation and size) and mapped by a peer when it first reads it,
 * again after it grew.
 */
public enum Region {
    /** What a normal dispatch or combine sends: grown to the largest call. */
    NORMAL("n"),
    /** The two low-latency send slots (tokens, scales, the tokens of every expert): fixed by the spec. */
    LOW_LATENCY("l"),
    /** The two low-latency combine inputs {@code [L, R*N, H]}: fixed by the spec. */
    LOW_LATENCY_COMBINE("c");

    private final String suffix;

    Region(String suffix) {
        this.suffix = suffix;
    }

    /** The name of generation {@code generation} of this region of the rank with stem {@code stem}. */
    String name(String stem, long generation) {
        return stem + "." + suffix + generation;
    }
}
