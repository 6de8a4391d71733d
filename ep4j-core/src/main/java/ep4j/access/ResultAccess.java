package ep4j.access;

import ep4j.Combined;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpEvent;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.RecvHook;
import ep4j.DType;
import ep4j.Tensor;
import ep4j.spi.Generation;
import ep4j.spi.Keeper;
import java.lang.foreign.MemorySegment;
import java.util.function.BooleanSupplier;

/**
 * The constructors of the result types, which are package-private in {@code ep4j}, as seen from
 * {@link ep4j.spi.Results}. Not API: this package is not exported.
 */
public interface ResultAccess {
    DispatchLayout layout(int numExperts, int numTokens, Tensor tokensPerRank, Tensor tokensPerExpert,
            Tensor isTokenInRank);

    DispatchHandle handle(EpBuffer owner, int numTokens, long numRows, Tensor isTokenInRank, Tensor sendRow,
            Tensor sourceToken, Tensor sourceRankOffsets, Object state);

    Object state(DispatchHandle handle);

    Dispatched dispatched(Tensor x, Tensor scales, Tensor topkIdx, Tensor topkWeights, Tensor tokensPerExpert,
            int[] tokensPerExpertList, DispatchHandle handle, EpEvent event, boolean ownsHandle, Keeper keeper);

    Tensor recycled(MemorySegment hostSegment, long address, int device, DType dtype, Generation region,
            long generation, long... shape);

    Combined combined(Tensor x, Tensor topkWeights, EpEvent event);

    LowLatencyHandle lowLatencyHandle(EpBuffer owner, int slot, long generation, int numExperts, int numTokens,
            Tensor sourceToken, Tensor ranges, BooleanSupplier alive);

    LowLatencyDispatched lowLatencyDispatched(Tensor x, Tensor scales, Tensor recvCount, LowLatencyHandle handle,
            RecvHook hook, BooleanSupplier received, EpEvent event);

    LowLatencyCombined lowLatencyCombined(Tensor x, boolean ownsX, RecvHook hook, BooleanSupplier received,
            EpEvent event);
}
