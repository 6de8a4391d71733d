package ep4j;

import ep4j.spi.Keeper;
import org.jspecify.annotations.Nullable;

/**
 * The routing of one normal dispatch: what {@link EpBuffer#combine} and a cached dispatch
 * ({@link DispatchArgs#cached}) need. It belongs to the buffer (and rank) that made it; passing
 * it to another buffer is an {@link InvalidArgumentException}. Its tensors live on the rank's
 * device. It is owned by the {@link Dispatched} that returned it and closed with it; a closed
 * handle is rejected by combine and cached dispatch.
 */
public final class DispatchHandle extends OwnedResult {
    private final EpBuffer owner;
    private final int rank;
    private final int ranks;
    private final int numTokens;
    private final int hidden;
    private final long numRows;
    private final Tensor isTokenInRank;
    private final Tensor sendRow;
    private volatile Tensor sourceToken;
    private final Tensor sourceRankOffsets;
    private final @Nullable Object state;

    DispatchHandle(EpBuffer owner, int numTokens, long numRows, Tensor isTokenInRank, Tensor sendRow,
            Tensor sourceToken, Tensor sourceRankOffsets, @Nullable Object state) {
        super(isTokenInRank, sendRow, sourceToken, sourceRankOffsets, state instanceof AutoCloseable c ? c : null);
        this.owner = owner;
        this.rank = owner.rank();
        this.ranks = owner.ranks();
        this.hidden = owner.spec().hidden();
        this.numTokens = numTokens;
        this.numRows = numRows;
        this.isTokenInRank = isTokenInRank;
        this.sendRow = sendRow;
        this.sourceToken = sourceToken;
        this.sourceRankOffsets = sourceRankOffsets;
        this.state = state;
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
     * The rank that dispatched.
     *
     * @return the rank, 0 to {@code R - 1}
     */
    public int rank() {
        return rank;
    }

    /**
     * The group size {@code R}.
     *
     * @return {@code R}
     */
    public int ranks() {
        return ranks;
    }

    /**
     * The number of tokens {@code T} this rank dispatched (and gets back from combine).
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
     * Rows of the received tensors, and of the expert output {@link EpBuffer#combine} expects:
     * the exact count, or {@link DispatchArgs#numWorstTokens} when the dispatch asked for it.
     *
     * @return the row count
     */
    public long numRows() {
        return numRows;
    }

    /**
     * Whether token t of this rank went to rank j.
     *
     * @return {@code [T, R]} uint8, 0 or 1
     * @throws IllegalStateException when the handle was closed
     */
    public Tensor isTokenInRank() {
        return open(isTokenInRank);
    }

    /**
     * The row token t of this rank took on rank j.
     *
     * @return {@code [T, R]} int32, -1 where the token did not go
     * @throws IllegalStateException when the handle was closed
     */
    public Tensor sendRow() {
        return open(sendRow);
    }

    /**
     * The source token index (on its source rank) of every received row.
     *
     * @return {@code [numRows]} int32, -1 for rows past the received count
     * @throws IllegalStateException when the handle was closed
     */
    public Tensor sourceToken() {
        return open(sourceToken);
    }

    /**
     * Where the rows of each source rank begin: rows of source rank i are
     * {@code [off[i], off[i + 1])}.
     *
     * @return {@code [R + 1]} int32
     * @throws IllegalStateException when the handle was closed
     */
    public Tensor sourceRankOffsets() {
        return open(sourceRankOffsets);
    }

    /** The backend's own state, for {@link ep4j.spi.Results#backendState}. */
    @Nullable Object state() {
        return open(state);
    }

    /** Replaces a source-token view of a receive slot with an owned copy ({@link Dispatched#keep()}). */
    synchronized void keep(Keeper keeper) {
        if (sourceToken.isRecycledView()) {
            Tensor copy = keeper.keep(sourceToken);
            adopt(copy);
            sourceToken = copy;
        }
    }
}
