package ep4j;

/**
 * The routing of one normal dispatch: what combine and cached dispatch need. It belongs to the
 * buffer (and rank) that made it; using it with another buffer is rejected. Its tensors live on
 * the rank's device. It is closed with the {@link Dispatched} that holds it.
 */
public final class DispatchHandle extends OwnedResult {
    private final Object owner;
    private final int rank;
    private final int ranks;
    private final int numTokens;
    private final int hidden;
    private final long numRows;
    private final Tensor isTokenInRank;
    private final Tensor sendRow;
    private final Tensor sourceToken;
    private final Tensor sourceRankOffsets;
    private final Object backendState;

    /**
     * @param owner             identity of the buffer that made it
     * @param numTokens         T on this rank when it dispatched
     * @param numRows           rows allocated on the receiving side (exact count, or numWorstTokens)
     * @param isTokenInRank     {@code [T, R]} uint8
     * @param sendRow           {@code [T, R]} int32: the row token t took on rank j, or -1
     * @param sourceToken       {@code [numRows]} int32: the source token index of each received row (-1 past the end)
     * @param sourceRankOffsets {@code [R + 1]} int32: rows of source rank i are [off[i], off[i+1])
     * @param backendState      anything else the backend keeps (may be null); closed with the handle if AutoCloseable
     */
    public DispatchHandle(Object owner, int rank, int ranks, int numTokens, int hidden, long numRows,
            Tensor isTokenInRank, Tensor sendRow, Tensor sourceToken, Tensor sourceRankOffsets, Object backendState) {
        super(isTokenInRank, sendRow, sourceToken, sourceRankOffsets,
                backendState instanceof AutoCloseable c ? c : null);
        this.owner = owner;
        this.rank = rank;
        this.ranks = ranks;
        this.numTokens = numTokens;
        this.hidden = hidden;
        this.numRows = numRows;
        this.isTokenInRank = isTokenInRank;
        this.sendRow = sendRow;
        this.sourceToken = sourceToken;
        this.sourceRankOffsets = sourceRankOffsets;
        this.backendState = backendState;
    }

    public boolean belongsTo(Object buffer) {
        return owner == buffer;
    }

    public int rank() {
        return rank;
    }

    public int ranks() {
        return ranks;
    }

    public int numTokens() {
        return numTokens;
    }

    public int hidden() {
        return hidden;
    }

    /** Rows of the received tensors (and of the expert output combine expects). */
    public long numRows() {
        return numRows;
    }

    public Tensor isTokenInRank() {
        return open(isTokenInRank);
    }

    public Tensor sendRow() {
        return open(sendRow);
    }

    public Tensor sourceToken() {
        return open(sourceToken);
    }

    public Tensor sourceRankOffsets() {
        return open(sourceRankOffsets);
    }

    /** For the backend that made the handle. */
    public Object backendState() {
        return open(backendState);
    }
}
