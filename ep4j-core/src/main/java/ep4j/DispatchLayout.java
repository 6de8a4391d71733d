package ep4j;

/**
 * Where each token of one rank goes (DESIGN 2.1), computed by {@link EpBuffer#layout} from its
 * top-k experts. The tensors live where the backend computes (host memory on the CPU backend,
 * the rank's GPU on CUDA) and are owned by this layout: closing it frees them.
 *
 * <p>A token that lists one expert in several top-k slots selected that expert once: it counts
 * once in {@link #tokensPerExpert()}.
 */
public final class DispatchLayout extends OwnedResult {
    private final int numExperts;
    private final int numTokens;
    private final Tensor tokensPerRank;
    private final Tensor tokensPerExpert;
    private final Tensor isTokenInRank;

    DispatchLayout(int numExperts, int numTokens, Tensor tokensPerRank, Tensor tokensPerExpert,
            Tensor isTokenInRank) {
        super(tokensPerRank, tokensPerExpert, isTokenInRank);
        this.numExperts = numExperts;
        this.numTokens = numTokens;
        this.tokensPerRank = tokensPerRank;
        this.tokensPerExpert = tokensPerExpert;
        this.isTokenInRank = isTokenInRank;
    }

    /**
     * The number of experts {@code E} the routing was computed for.
     *
     * @return {@code E}
     */
    public int numExperts() {
        return numExperts;
    }

    /**
     * The number of tokens {@code T} of this rank.
     *
     * @return {@code T}
     */
    public int numTokens() {
        return numTokens;
    }

    /**
     * Local tokens with at least one expert on each rank.
     *
     * @return {@code [R]} int32
     * @throws IllegalStateException when the layout was closed
     */
    public Tensor tokensPerRank() {
        return open(tokensPerRank);
    }

    /**
     * Local tokens that chose each expert (a token listing an expert twice counts once).
     *
     * @return {@code [E]} int32
     * @throws IllegalStateException when the layout was closed
     */
    public Tensor tokensPerExpert() {
        return open(tokensPerExpert);
    }

    /**
     * Whether token t goes to rank j.
     *
     * @return {@code [T, R]} uint8, 0 or 1
     * @throws IllegalStateException when the layout was closed
     */
    public Tensor isTokenInRank() {
        return open(isTokenInRank);
    }
}
