package ep4j;

/**
 * Where each token goes (DESIGN 2.1), computed from its top-k experts. Tensors live where the
 * backend computes (host on the CPU backend, the rank's GPU on CUDA).
 */
public final class DispatchLayout extends OwnedResult {
    private final int numExperts;
    private final int numTokens;
    private final Tensor tokensPerRank;
    private final Tensor tokensPerExpert;
    private final Tensor isTokenInRank;

    /**
     * @param tokensPerRank   {@code [R]} int32: local tokens with at least one expert on rank j
     * @param tokensPerExpert {@code [E]} int32: local tokens that chose expert e
     * @param isTokenInRank   {@code [T, R]} uint8 (0/1)
     */
    public DispatchLayout(int numExperts, int numTokens, Tensor tokensPerRank, Tensor tokensPerExpert,
            Tensor isTokenInRank) {
        super(tokensPerRank, tokensPerExpert, isTokenInRank);
        this.numExperts = numExperts;
        this.numTokens = numTokens;
        this.tokensPerRank = tokensPerRank;
        this.tokensPerExpert = tokensPerExpert;
        this.isTokenInRank = isTokenInRank;
    }

    public int numExperts() {
        return numExperts;
    }

    public int numTokens() {
        return numTokens;
    }

    public Tensor tokensPerRank() {
        return open(tokensPerRank);
    }

    public Tensor tokensPerExpert() {
        return open(tokensPerExpert);
    }

    public Tensor isTokenInRank() {
        return open(isTokenInRank);
    }
}
