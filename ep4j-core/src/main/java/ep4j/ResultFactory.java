package ep4j;

import ep4j.access.Access;
import ep4j.access.ResultAccess;
import ep4j.spi.Generation;
import ep4j.spi.Keeper;
import java.lang.foreign.MemorySegment;
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
            int[] tokensPerExpertList, DispatchHandle handle, EpEvent event, boolean ownsHandle, Keeper keeper) {
        return new Dispatched(x, scales, topkIdx, topkWeights, tokensPerExpert, tokensPerExpertList, handle, event,
                ownsHandle, keeper);
    }

    @Override
    public Tensor recycled(MemorySegment hostSegment, long address, int device, DType dtype, Generation region,
            long generation, long... shape) {
        return Tensor.recycled(hostSegment, address, device, dtype, region, generation, shape);
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
            LowLatencyHandle handle, RecvHook hook, BooleanSupplier received, EpEvent event) {
        return new LowLatencyDispatched(x, scales, recvCount, handle, hook, received, event);
    }

    @Override
    public LowLatencyCombined lowLatencyCombined(Tensor x, boolean ownsX, RecvHook hook, BooleanSupplier received,
            EpEvent event) {
        return new LowLatencyCombined(x, ownsX, hook, received, event);
    }
}
