package ep4j;

import ep4j.access.Access;
import ep4j.access.ResultAccess;
import java.util.function.BooleanSupplier;

/** Gives {@link ep4j.spi.Results} the package-private constructors of the result types. */
final class ResultFactory implements ResultAccess {
    static {
        Access.register(new ResultFactory());
    }

    private ResultFactory() {
    }

    @Override
    public DispatchLayout layout(int numExperts, int numTokens, Tensor tokensPerRank, Tensor tokensPerExpert,
            Tensor isTokenInRank) {
        return new DispatchLayout(numExperts, numTokens, tokensPerRank, tokensPerExpert, isTokenInRank);
    }

    @Override
    public DispatchHandle handle(EpBuffer owner, int numTokens, long numRows, Tensor isTokenInRank, Tensor sendRow,
            Tensor sourceToken, Tensor sourceRankOffsets, Object state) {
        return new DispatchHandle(owner, numTokens, numRows, isTokenInRank, sendRow, sourceToken, sourceRankOffsets,
                state);
    }

    @Override
    public Object state(DispatchHandle handle) {
        return handle.state();
    }

    @Override
    public Dispatched dispatched(Tensor x, Tensor scales, Tensor topkIdx, Tensor topkWeights, Tensor tokensPerExpert,
            int[] tokensPerExpertList, DispatchHandle handle, EpEvent event, boolean ownsHandle) {
        return new Dispatched(x, scales, topkIdx, topkWeights, tokensPerExpert, tokensPerExpertList, handle, event,
                ownsHandle);
    }

    @Override
    public Combined combined(Tensor x, Tensor topkWeights, EpEvent event) {
        return new Combined(x, topkWeights, event);
    }

    @Override
    public LowLatencyHandle lowLatencyHandle(EpBuffer owner, int slot, long generation, int numExperts, int numTokens,
            Tensor sourceToken, Tensor ranges, BooleanSupplier alive) {
        return new LowLatencyHandle(owner, slot, generation, numExperts, numTokens, sourceToken, ranges, alive);
    }

    @Override
    public LowLatencyDispatched lowLatencyDispatched(Tensor x, Tensor scales, Tensor recvCount,
            LowLatencyHandle handle, RecvHook hook, BooleanSupplier received) {
        return new LowLatencyDispatched(x, scales, recvCount, handle, hook, received);
    }

    @Override
    public LowLatencyCombined lowLatencyCombined(Tensor x, boolean ownsX, RecvHook hook, BooleanSupplier received) {
        return new LowLatencyCombined(x, ownsX, hook, received);
    }
}
