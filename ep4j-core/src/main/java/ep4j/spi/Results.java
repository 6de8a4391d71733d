package ep4j.spi;

import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpEvent;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.RecvHook;
import ep4j.Tensor;
import ep4j.access.Access;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * How a backend makes the API's result types, whose constructors are not public: users receive
 * results, backends create them, and whatever a backend keeps in a result stays out of the
 * user's view. For backend implementers; an application has no use for this class.
 *
 * <p>Ownership follows the API: a result owns the tensors given to it here (closing the result
 * closes them), except where a method says otherwise. Tensors must already hold their final
 * values, or be completed by the {@link EpEvent} given with them.
 */
public final class Results {
    private Results() {
    }

    /**
     * A layout (DESIGN 2.1) owning its three tensors.
     *
     * @param numExperts      {@code E}, the number of experts of the routing
     * @param numTokens       {@code T}, the number of tokens of this rank
     * @param tokensPerRank   {@code [R]} int32: local tokens with at least one expert on rank j
     * @param tokensPerExpert {@code [E]} int32: local tokens that chose expert e (a duplicate counts once)
     * @param isTokenInRank   {@code [T, R]} uint8 (0 or 1)
     * @return the layout, owning the tensors
     */
    public static DispatchLayout layout(int numExperts, int numTokens, Tensor tokensPerRank, Tensor tokensPerExpert,
            Tensor isTokenInRank) {
        return Access.results().layout(numExperts, numTokens, tokensPerRank, tokensPerExpert, isTokenInRank);
    }

    /**
     * The handle of a fresh dispatch: it owns the four tensors and, if {@code state} is
     * {@link AutoCloseable}, closes it with them. Its rank, group size and hidden size are those
     * of {@code owner}.
     *
     * @param owner             the buffer that made the dispatch; only it accepts the handle
     * @param numTokens         {@code T} of this rank when it dispatched
     * @param numRows           rows allocated on the receiving side (the exact count, or {@code numWorstTokens})
     * @param isTokenInRank     {@code [T, R]} uint8
     * @param sendRow           {@code [T, R]} int32: the row token t took on rank j, or -1
     * @param sourceToken       {@code [numRows]} int32: the source token of each received row, -1 past the end
     * @param sourceRankOffsets {@code [R + 1]} int32: the rows of source rank i are {@code [off[i], off[i + 1])}
     * @param state             what else the backend keeps, read back with {@link #backendState}; may be null
     * @return the handle
     */
    public static DispatchHandle handle(EpBuffer owner, int numTokens, long numRows, Tensor isTokenInRank,
            Tensor sendRow, Tensor sourceToken, Tensor sourceRankOffsets, @Nullable Object state) {
        Objects.requireNonNull(owner, "owner");
        return Access.results().handle(owner, numTokens, numRows, isTokenInRank, sendRow, sourceToken,
                sourceRankOffsets, state);
    }

    /**
     * What the backend stored in {@code handle} with {@link #handle}, for the buffer that made it.
     *
     * @param <T>    the state's type
     * @param handle a handle the user passed back (cached dispatch, combine)
     * @param owner  the buffer asking: it must be the one that made the handle
     * @param type   the state's class
     * @return the state
     * @throws InvalidArgumentException when {@code owner} did not make {@code handle}, or the
     *         state is not a {@code type} (a handle of another backend)
     * @throws IllegalStateException when the handle was closed
     */
    public static <T> T backendState(DispatchHandle handle, EpBuffer owner, Class<T> type) {
        if (handle == null || !handle.belongsTo(owner)) {
            throw new InvalidArgumentException("handle", handle == null ? null : "a handle of another buffer",
                    "a handle made by this buffer");
        }
        Object state = Access.results().state(handle);
        if (!type.isInstance(state)) {
            throw new InvalidArgumentException("handle state", state == null ? null : state.getClass().getName(),
                    "a " + type.getName() + " (a handle of this backend)");
        }
        return type.cast(state);
    }

    /**
     * The result of a fresh dispatch: owns its tensors and {@code handle}.
     *
     * @param x                   received tokens {@code [rows, H]}
     * @param scales              received fp8 scales, or null for bf16
     * @param topkIdx             {@code [rows, K]} local expert indices, or null without topk
     * @param topkWeights         {@code [rows, K]} float32, or null without weights
     * @param tokensPerExpert     {@code [L]} int32 on the rank's device, aligned counts
     * @param tokensPerExpertList the same counts on the host, or null when they are not known
     *                            there (a {@code numWorstTokens} dispatch)
     * @param handle              the routing, made by {@link #handle}
     * @param event               completion of the call ({@link EpEvent#completed()} when synchronous)
     * @return the result
     */
    public static Dispatched dispatched(Tensor x, @Nullable Tensor scales, @Nullable Tensor topkIdx,
            @Nullable Tensor topkWeights, Tensor tokensPerExpert, int @Nullable [] tokensPerExpertList,
            DispatchHandle handle, EpEvent event) {
        return Access.results().dispatched(x, scales, topkIdx, topkWeights, tokensPerExpert, tokensPerExpertList,
                handle, event, true, null);
    }

    /**
     * As {@link #dispatched(Tensor, Tensor, Tensor, Tensor, Tensor, int[], DispatchHandle, EpEvent)},
     * for a backend whose received rows are views of its fixed memory ({@link #recycledView}):
     * {@link Dispatched#keep()} copies them with {@code keeper}.
     *
     * @param x                   received tokens {@code [rows, H]}
     * @param scales              received fp8 scales, or null for bf16
     * @param topkIdx             {@code [rows, K]} local expert indices, or null without topk
     * @param topkWeights         {@code [rows, K]} float32, or null without weights
     * @param tokensPerExpert     {@code [L]} int32 on the rank's device, aligned counts
     * @param tokensPerExpertList the same counts on the host, or null when not known there
     * @param handle              the routing, made by {@link #handle}
     * @param event               completion of the call
     * @param keeper              copies a view into owned memory
     * @return the result
     */
    public static Dispatched dispatched(Tensor x, @Nullable Tensor scales, @Nullable Tensor topkIdx,
            @Nullable Tensor topkWeights, Tensor tokensPerExpert, int @Nullable [] tokensPerExpertList,
            DispatchHandle handle, EpEvent event, Keeper keeper) {
        return Access.results().dispatched(x, scales, topkIdx, topkWeights, tokensPerExpert, tokensPerExpertList,
                handle, event, true, Objects.requireNonNull(keeper, "keeper"));
    }

    /**
     * A view of a backend's fixed memory that a later call refills: readable while {@code region}
     * holds {@code generation} ({@link Generation#holds}), then every read throws
     * {@link IllegalStateException} naming the region. Closing the view frees nothing.
     *
     * @param address    the device pointer (or host address)
     * @param device     the GPU index, or {@link Tensor#HOST}
     * @param dtype      the element type
     * @param region     the refilled region
     * @param generation the generation whose contents the view shows ({@link Generation#current()})
     * @param shape      the sizes
     * @return the view
     */
    public static Tensor recycledView(long address, int device, DType dtype, Generation region, long generation,
            long... shape) {
        return Access.results().recycled(null, address, device, dtype, region, generation, shape);
    }

    /**
     * As {@link #recycledView(long, int, DType, Generation, long, long...)}, over host memory.
     *
     * @param segment    the host memory, at least the view's bytes
     * @param dtype      the element type
     * @param region     the refilled region
     * @param generation the generation whose contents the view shows
     * @param shape      the sizes
     * @return the view
     */
    public static Tensor recycledHostView(MemorySegment segment, DType dtype, Generation region, long generation,
            long... shape) {
        long bytes = HostMemory.byteSize(dtype, shape);
        return Access.results().recycled(segment.asSlice(0, bytes), segment.address(), Tensor.HOST, dtype, region,
                generation, shape);
    }

    /**
     * The result of a cached dispatch: as {@link #dispatched}, except that {@code handle} belongs
     * to the dispatch that made it and closing this result leaves it open.
     *
     * @param x                   received tokens {@code [rows, H]}
     * @param scales              received fp8 scales, or null for bf16
     * @param tokensPerExpert     {@code [L]} int32 on the rank's device, aligned counts
     * @param tokensPerExpertList the same counts on the host, or null when not known there
     * @param handle              the cached handle, not owned
     * @param event               completion of the call
     * @return the result
     */
    public static Dispatched cachedDispatched(Tensor x, @Nullable Tensor scales, Tensor tokensPerExpert,
            int @Nullable [] tokensPerExpertList, DispatchHandle handle, EpEvent event) {
        return Access.results().dispatched(x, scales, null, null, tokensPerExpert, tokensPerExpertList, handle,
                event, false, null);
    }

    /**
     * A cached dispatch whose rows are views of the backend's fixed memory, kept by {@code keeper}.
     *
     * @param x                   received tokens {@code [rows, H]}
     * @param scales              received fp8 scales, or null for bf16
     * @param tokensPerExpert     {@code [L]} int32 on the rank's device, aligned counts
     * @param tokensPerExpertList the same counts on the host, or null when not known there
     * @param handle              the cached handle, not owned
     * @param event               completion of the call
     * @param keeper              copies a view into owned memory
     * @return the result
     */
    public static Dispatched cachedDispatched(Tensor x, @Nullable Tensor scales, Tensor tokensPerExpert,
            int @Nullable [] tokensPerExpertList, DispatchHandle handle, EpEvent event, Keeper keeper) {
        return Access.results().dispatched(x, scales, null, null, tokensPerExpert, tokensPerExpertList, handle,
                event, false, Objects.requireNonNull(keeper, "keeper"));
    }

    /**
     * The result of a normal combine, owning its tensors.
     *
     * @param x           {@code [T, H]} bf16
     * @param topkWeights {@code [T, K]} float32 summed weights, or null when none were given
     * @param event       completion of the call
     * @return the result
     */
    public static Combined combined(Tensor x, @Nullable Tensor topkWeights, EpEvent event) {
        return Access.results().combined(x, topkWeights, event);
    }

    /**
     * The handle of a low-latency dispatch: views of {@code owner}'s memory, valid while
     * {@code alive} says so. Its hidden size is {@code owner}'s.
     *
     * @param owner       the buffer that made it
     * @param slot        which of the two low-latency buffers holds the call (0 or 1)
     * @param generation  the call's number among the buffer's low-latency dispatches
     * @param numExperts  {@code E}
     * @param numTokens   {@code T} of the dispatching rank
     * @param sourceToken {@code [L, R*N]} int32: the source token of every row
     * @param ranges      {@code [L, R, 2]} int32: (begin, count) of every (local expert, source rank)
     * @param alive       false once the slot has been reused by a later call
     * @return the handle
     */
    public static LowLatencyHandle lowLatencyHandle(EpBuffer owner, int slot, long generation, int numExperts,
            int numTokens, Tensor sourceToken, Tensor ranges, BooleanSupplier alive) {
        Objects.requireNonNull(owner, "owner");
        return Access.results().lowLatencyHandle(owner, slot, generation, numExperts, numTokens, sourceToken, ranges,
                alive);
    }

    /**
     * The result of a low-latency dispatch. Its tensors are views of the buffer: closing the
     * result marks them closed and frees nothing.
     *
     * @param x         {@code [L, R*N, H]} bf16 or fp8
     * @param scales    fp8 scales, or null for bf16
     * @param recvCount {@code [L]} int32
     * @param handle    the call's handle
     * @param hook      the receive half, or null when the call has received already
     * @param received  whether the receive half was issued (reads before that throw)
     * @param event     completion of the call ({@link EpEvent#completed()} for a synchronous one;
     *                  with a hook, the hook's {@link RecvHook#receive()} returns the receive's)
     * @return the result
     */
    public static LowLatencyDispatched lowLatencyDispatched(Tensor x, @Nullable Tensor scales, Tensor recvCount,
            LowLatencyHandle handle, @Nullable RecvHook hook, BooleanSupplier received, EpEvent event) {
        return Access.results().lowLatencyDispatched(x, scales, recvCount, handle, hook, received, event);
    }

    /**
     * The result of a low-latency combine.
     *
     * @param x        {@code [T, H]} bf16
     * @param ownsX    whether the result owns {@code x} (false when the caller passed the output tensor)
     * @param hook     the receive half, or null when the call has received already
     * @param received whether the receive half was issued (reads before that throw)
     * @param event    completion of the call ({@link EpEvent#completed()} for a synchronous one)
     * @return the result
     */
    public static LowLatencyCombined lowLatencyCombined(Tensor x, boolean ownsX, @Nullable RecvHook hook,
            BooleanSupplier received, EpEvent event) {
        return Access.results().lowLatencyCombined(x, ownsX, hook, received, event);
    }
}
