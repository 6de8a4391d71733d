package ep4j;

import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The routing of one low-latency dispatch, as views of the buffer that made it. It stays valid
 * until two more low-latency dispatches have run on that buffer (double buffering: the results
 * of at most two calls are alive at once); after that, reading it is an
 * {@link IllegalStateException} and combine rejects it. It owns nothing and needs no closing.
 */
public final class LowLatencyHandle {
    private final EpBuffer owner;
    private final int slot;
    private final long generation;
    private final int numExperts;
    private final int numTokens;
    private final int hidden;
    private final Tensor sourceToken;
    private final Tensor ranges;
    private final BooleanSupplier alive;

    LowLatencyHandle(EpBuffer owner, int slot, long generation, int numExperts, int numTokens, Tensor sourceToken,
            Tensor ranges, BooleanSupplier alive) {
        this.owner = owner;
        this.slot = slot;
        this.generation = generation;
        this.numExperts = numExperts;
        this.numTokens = numTokens;
        this.hidden = owner.spec().hidden();
        this.sourceToken = sourceToken;
        this.ranges = ranges;
        this.alive = alive;
    }

    /**
     * Whether {@code buffer} made this handle (only that buffer accepts it).
     *
     * @param buffer a buffer, or null
     * @return true when {@code buffer} made it
     */
    public boolean belongsTo(@Nullable EpBuffer buffer) {
        return owner == buffer;
    }

    /**
     * Whether the handle can still be read and combined: false once a later call reused its
     * slot, or the buffer was closed.
     *
     * @return true while valid
     */
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

    /**
     * Which of the buffer's two low-latency slots holds the call.
     *
     * @return 0 or 1
     */
    public int slot() {
        return slot;
    }

    /**
     * The call's number among the buffer's low-latency dispatches, from 0.
     *
     * @return the generation
     */
    public long generation() {
        return generation;
    }

    /**
     * The number of experts {@code E} of the call.
     *
     * @return {@code E}
     */
    public int numExperts() {
        return numExperts;
    }

    /**
     * The number of tokens {@code T} the dispatching rank sent (and combine returns).
     *
     * @return {@code T}
     */
    public int numTokens() {
        return numTokens;
    }

    /**
     * The hidden size {@code H} of the buffer.
     *
     * @return {@code H}, in elements
     */
    public int hidden() {
        return hidden;
    }

    /**
     * The source token index of every received row.
     *
     * @return {@code [L, R*N]} int32 (a view)
     * @throws IllegalStateException when the handle is stale
     */
    public Tensor sourceToken() {
        return valid(sourceToken);
    }

    /**
     * Where the rows of each (local expert, source rank) pair are.
     *
     * @return {@code [L, R, 2]} int32: (begin, count) (a view)
     * @throws IllegalStateException when the handle is stale
     */
    public Tensor ranges() {
        return valid(ranges);
    }
}
