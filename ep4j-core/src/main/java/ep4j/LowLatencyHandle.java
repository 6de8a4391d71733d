package ep4j;

import java.util.function.BooleanSupplier;

/**
 * The routing of one low-latency dispatch, as views of the buffer that made it. It stays valid
 * until two more low-latency dispatches have run on that buffer (double buffering); after that,
 * reading it is an {@link IllegalStateException}.
 */
public final class LowLatencyHandle {
    private final Object owner;
    private final int slot;
    private final long generation;
    private final int numExperts;
    private final int numTokens;
    private final int hidden;
    private final Tensor sourceToken;
    private final Tensor ranges;
    private final BooleanSupplier alive;

    /**
     * @param slot        which of the two buffers holds the call (0 or 1)
     * @param sourceToken {@code [L, R*N]} int32: the source token index of every row
     * @param ranges      {@code [L, R, 2]} int32: (begin, count) of every (local expert, source rank)
     * @param alive       false once the buffer slot has been reused
     */
    public LowLatencyHandle(Object owner, int slot, long generation, int numExperts, int numTokens, int hidden,
            Tensor sourceToken, Tensor ranges, BooleanSupplier alive) {
        this.owner = owner;
        this.slot = slot;
        this.generation = generation;
        this.numExperts = numExperts;
        this.numTokens = numTokens;
        this.hidden = hidden;
        this.sourceToken = sourceToken;
        this.ranges = ranges;
        this.alive = alive;
    }

    public boolean belongsTo(Object buffer) {
        return owner == buffer;
    }

    public boolean isValid() {
        return alive.getAsBoolean();
    }

    private <T> T valid(T value) {
        if (!alive.getAsBoolean()) {
            throw new IllegalStateException("low-latency handle of call #" + generation
                    + " is stale: its buffer was reused by a later call (at most two calls are alive)");
        }
        return value;
    }

    public int slot() {
        return slot;
    }

    public long generation() {
        return generation;
    }

    public int numExperts() {
        return numExperts;
    }

    /** T of the dispatching rank. */
    public int numTokens() {
        return numTokens;
    }

    public int hidden() {
        return hidden;
    }

    public Tensor sourceToken() {
        return valid(sourceToken);
    }

    public Tensor ranges() {
        return valid(ranges);
    }
}
