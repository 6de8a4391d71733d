package ep4j.cuda.lowlatency;

import ep4j.DType;
import ep4j.EpBuffer;
import ep4j.EpEvent;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.RecvHook;
import ep4j.Tensor;
import ep4j.codec.Fp8Mode;
import ep4j.cuda.control.CallRecords;
import ep4j.cuda.control.RankRuntime;
import ep4j.cuda.kernel.KernelConstants;
import ep4j.cuda.kernel.LlMode;
import ep4j.cuda.kernel.LlParams;
import ep4j.cuda.kernel.LlPhase;
import ep4j.cuda.kernel.Params;
import ep4j.cuda.memory.Carving;
import ep4j.cuda.memory.HeapLayout;
import ep4j.spi.Generation;
import ep4j.spi.Results;

/**
 * The low-latency (decoding) calls of one rank (DESIGN 2.4, 2.5; kernels in ll_dispatch.cuh and
 * ll_combine.cuh) on the device runtime. A call is one launch: the send half and the receive
 * half together, or, with {@code returnRecvHook}, the send half alone, the hook launching the
 * receive half when asked (no kernel is resident in between). Two slots alternate; the kernels
 * number the calls of each slot themselves, so the launch parameters of a call depend only on
 * its inputs and its slot (a CUDA graph replays it).
 */
public final class LowLatencyPath implements AutoCloseable {
    private final RankRuntime rt;
    private final EpBuffer owner;
    private final HeapLayout layout;
    private final int sendBlocks;
    /** The kernels' timeline (-Dep4j.cuda.llTrace), or null. */
    private final LlTrace trace;
    private final Params params = new Params(LlParams.STRUCT);
    private final Generation[] slotViews = {new Generation("low-latency slot 0"), new Generation("low-latency slot 1")};
    private final Carving[] combineInput = new Carving[2];
    private final DispatchState[] slots = new DispatchState[2];
    private final CombineState[] lastCombine = new CombineState[2];
    /** Low-latency dispatches so far; the next one uses slot {@code generation & 1}. */
    private long generation = -1;

    /** What a dispatch on a slot left for its receive half and its combine. */
    private static final class DispatchState {
        final long generation;
        final int slot;
        final int topk;
        final int tokens;
        final LlMode mode;
        final CallRecords.Op op;
        volatile boolean received;

        DispatchState(long generation, int slot, int topk, int tokens, LlMode mode, CallRecords.Op op) {
            this.generation = generation;
            this.slot = slot;
            this.topk = topk;
            this.tokens = tokens;
            this.mode = mode;
            this.op = op;
        }
    }

    private static final class CombineState {
        final int slot;
        final long topkIdx;
        final boolean topk64;
        final long weights;
        final int topk;
        final int tokens;
        final long out;
        final CallRecords.Op op;
        volatile boolean received;
        boolean dropped;

        CombineState(int slot, long topkIdx, boolean topk64, long weights, int topk, int tokens, long out,
                CallRecords.Op op) {
            this.slot = slot;
            this.topkIdx = topkIdx;
            this.topk64 = topk64;
            this.weights = weights;
            this.topk = topk;
            this.tokens = tokens;
            this.out = out;
            this.op = op;
        }
    }

    /**
     * @param sendBlocks blocks of every launch: the same on every rank of the group (receivers
     *                   count one arrival per rank, but blocks take tokens by index modulo the grid)
     */
    public LowLatencyPath(RankRuntime rt, EpBuffer owner, int sendBlocks) {
        this.rt = rt;
        this.owner = owner;
        this.layout = rt.layout;
        this.sendBlocks = sendBlocks;
        this.trace = LlTrace.create(rt, sendBlocks);
    }

    private int device() {
        return rt.context.device().ordinal();
    }

    // ------------------------------------------------------------------------------------ dispatch

    public LowLatencyDispatched dispatch(LowLatencyDispatchArgs a, int localExperts) {
        if (localExperts != layout.llLocalExperts || a.numExperts() != layout.llExperts) {
            throw new InvalidArgumentException("numExperts", a.numExperts(),
                    layout.llExperts + " (the buffer's BufferSpec lowLatency numExperts)");
        }
        Tensor x = a.x();
        int tokens = (int) x.dim(0);
        int topk = (int) a.topkIdx().dim(1);
        Fp8Mode fp8 = a.useFp8() ? Fp8Mode.of(a.roundScale(), a.useUe8m0()) : null;
        LlMode mode = LlMode.of(fp8);
        long g = ++generation;
        int s = (int) (g & 1);
        long viewGeneration = slotViews[s].advance();
        DispatchState st = new DispatchState(g, s, topk, tokens, mode, rt.records.begin("lowLatencyDispatch", topk));
        slots[s] = st;
        fill(s, a.returnRecvHook() ? LlPhase.SEND : LlPhase.SEND_AND_RECEIVE, tokens, topk, mode)
                .set(LlParams.X, x.address())
                .set(LlParams.TOPK_IDX, a.topkIdx().address())
                .set(LlParams.TOPK64, a.topkIdx().dtype() == DType.INT64);
        if (trace != null) {
            trace.arm();
        }
        rt.launchOverlapped(rt.kernels.llDispatch, sendBlocks, KernelConstants.LL_THREADS, 0, params);
        RecvHook hook = null;
        EpEvent event = EpEvent.completed();
        if (a.returnRecvHook()) {
            hook = () -> receive(st);
        } else {
            event = rt.finish(st.op, a.async());
            st.received = true;
            if (trace != null && !a.async() && !rt.capturing()) {
                trace.record("dispatch-" + mode);
            }
        }

        HeapLayout.LlLocal loc = layout.lowLatencyLocal(s);
        long base = rt.local.address();
        int capacity = (int) layout.llCapacity;
        Tensor outX = view(s, viewGeneration, base + loc.recvX(), fp8 == null ? DType.BF16 : DType.FP8_E4M3,
                layout.llLocalExperts, capacity, layout.hidden);
        Tensor outScales = fp8 == null ? null
                : view(s, viewGeneration, base + loc.recvScales(), fp8.packedExponents() ? DType.INT32 : DType.FLOAT32,
                        layout.llLocalExperts, capacity, fp8.scaleElementsPerRow(layout.hidden));
        Tensor recvCount = view(s, viewGeneration, base + loc.recvCount(), DType.INT32, layout.llLocalExperts);
        Tensor sourceToken = view(s, viewGeneration, base + loc.sourceToken(), DType.INT32, layout.llLocalExperts,
                capacity);
        Tensor ranges = view(s, viewGeneration, base + loc.ranges(), DType.INT32, layout.llLocalExperts, layout.ranks, 2);
        LowLatencyHandle handle = Results.lowLatencyHandle(owner, s, g, a.numExperts(), tokens, sourceToken, ranges,
                () -> !rt.isClosed() && generation - g < 2);
        return Results.lowLatencyDispatched(outX, outScales, recvCount, handle, hook, () -> st.received, event);
    }

    private Tensor view(int slot, long viewGeneration, long address, DType dtype, long... shape) {
        return Results.recycledView(address, device(), dtype, slotViews[slot], viewGeneration, shape);
    }

    /** The receive half of a hooked dispatch: enqueued, not awaited (the event tells when it is done). */
    private synchronized EpEvent receive(DispatchState st) {
        if (st.received) {
            return EpEvent.completed();
        }
        rt.ensureUsable();
        if (slots[st.slot] != st || generation - st.generation >= 2) {
            throw new IllegalStateException("low-latency dispatch #" + st.generation + " on rank " + rt.rank
                    + " is stale: its buffer was reused by a later call before it was received");
        }
        rt.context.makeCurrent();
        fill(st.slot, LlPhase.RECEIVE, st.tokens, st.topk, st.mode);
        rt.launchOverlapped(rt.kernels.llDispatch, sendBlocks, KernelConstants.LL_THREADS, 0, params);
        st.received = true;
        return rt.finish(st.op, true);
    }

    // ------------------------------------------------------------------------------------ combine

    /** Where expert outputs of the handle's dispatch may be written for a zero-copy combine. */
    public synchronized Tensor combineInput(LowLatencyHandle handle) {
        checkHandle(handle);
        int s = handle.slot();
        long bytes = layout.llLocalExperts * layout.llCapacity * 2L * layout.hidden;
        if (combineInput[s] == null) {
            combineInput[s] = Carving.of(rt::allocate, device(), bytes);
        }
        return Tensor.ofDevice(combineInput[s].address(0), device(), DType.BF16, layout.llLocalExperts,
                layout.llCapacity, layout.hidden);
    }

    private void checkHandle(LowLatencyHandle handle) {
        if (layout.llMaxTokens == 0) {
            throw new InvalidArgumentException("BufferSpec.lowLatency", "not set",
                    "a buffer made with BufferSpec...lowLatency(maxTokensPerRank, numExperts)");
        }
        if (handle == null || !handle.belongsTo(owner)) {
            throw new InvalidArgumentException("handle", handle == null ? null : "a handle of another buffer",
                    "a LowLatencyHandle made by this buffer");
        }
        DispatchState st = slots[handle.slot()];
        if (!handle.isValid() || st == null || st.generation != handle.generation()) {
            throw new InvalidArgumentException("handle", "stale (generation " + handle.generation() + ")",
                    "a handle of one of the last two low-latency dispatches");
        }
    }

    public LowLatencyCombined combine(LowLatencyCombineArgs a) {
        LowLatencyHandle h = a.handle();
        checkHandle(h);
        int s = h.slot();
        DispatchState ds = slots[s];
        if (!ds.received) {
            throw new IllegalStateException("low-latency combine on rank " + rt.rank + ": the dispatch of its handle (#"
                    + h.generation() + ") was not received yet; call its hook().receive() first");
        }
        int topk = (int) a.topkIdx().dim(1);
        if (topk != ds.topk) {
            throw new InvalidArgumentException("topkIdx.shape[1]", topk,
                    ds.topk + " (the topk of the low-latency dispatch of this handle)");
        }
        Tensor y = a.y();
        boolean inPlace = combineInput[s] != null && y.address() == combineInput[s].address(0);
        if (a.zeroCopy() && !inPlace) {
            throw new InvalidArgumentException("y", y + " at 0x" + Long.toHexString(y.address()),
                    "the tensor lowLatencyCombineInput(handle) returned (zeroCopy)");
        }
        int tokens = h.numTokens();
        Tensor out = a.out();
        boolean owns = out == null;
        if (owns) {
            out = Carving.of(rt::allocate, device(), 2L * tokens * layout.hidden)
                    .tensor(0, DType.BF16, tokens, layout.hidden);
        }
        CombineState prev = lastCombine[s];
        if (prev != null && !prev.received) {
            prev.dropped = true;
        }
        boolean topk64 = a.topkIdx().dtype() == DType.INT64;
        CombineState st = new CombineState(s, a.topkIdx().address(), topk64, a.topkWeights().address(), topk, tokens,
                out.address(), rt.records.begin("lowLatencyCombine", topk));
        lastCombine[s] = st;
        fillCombine(st, a.returnRecvHook() ? LlPhase.SEND : LlPhase.SEND_AND_RECEIVE).set(LlParams.Y, y.address());
        EpEvent event = EpEvent.completed();
        try {
            if (trace != null) {
                trace.arm();
            }
            rt.launchOverlapped(rt.kernels.llCombine, sendBlocks, KernelConstants.LL_THREADS, 0, params);
            if (!a.returnRecvHook()) {
                event = rt.finish(st.op, a.async());
                st.received = true;
                if (trace != null && !a.async() && !rt.capturing()) {
                    trace.record("combine");
                }
            }
        } catch (RuntimeException e) {
            if (owns) {
                out.close();
            }
            throw e;
        }
        return Results.lowLatencyCombined(out, owns, a.returnRecvHook() ? () -> receive(st) : null, () -> st.received,
                event);
    }

    private synchronized EpEvent receive(CombineState st) {
        if (st.received) {
            return EpEvent.completed();
        }
        rt.ensureUsable();
        if (st.dropped) {
            throw new IllegalStateException("low-latency combine call on rank " + rt.rank
                    + " is stale: a later low-latency combine reused its buffer before it was received");
        }
        rt.context.makeCurrent();
        fillCombine(st, LlPhase.RECEIVE);
        rt.launchOverlapped(rt.kernels.llCombine, sendBlocks, KernelConstants.LL_THREADS, 0, params);
        st.received = true;
        return rt.finish(st.op, true);
    }

    // ------------------------------------------------------------------------------------ kernels

    private Params fillCombine(CombineState st, LlPhase phase) {
        return fill(st.slot, phase, st.tokens, st.topk, LlMode.BF16)
                .set(LlParams.TOPK_IDX, st.topkIdx)
                .set(LlParams.TOPK64, st.topk64)
                .set(LlParams.WEIGHTS, st.weights)
                .set(LlParams.OUT, st.out);
    }

    /** The fields of every launch on slot {@code s}; inputs are set by the caller. */
    private Params fill(int s, LlPhase phase, int tokens, int topk, LlMode mode) {
        HeapLayout.LlSlot heap = layout.lowLatency(s);
        HeapLayout.LlLocal loc = layout.lowLatencyLocal(s);
        long base = rt.local.address();
        int hidden = layout.hidden;
        return rt.common(params, LlParams.COMMON)
                .set(LlParams.RECV_X, base + loc.recvX())
                .set(LlParams.RECV_SCALES, base + loc.recvScales())
                .set(LlParams.RECV_COUNT, base + loc.recvCount())
                .set(LlParams.SOURCE_TOKEN, base + loc.sourceToken())
                .set(LlParams.RANGES, base + loc.ranges())
                .set(LlParams.FIRST_K, base + loc.firstK())
                .set(LlParams.DTOPK, base + loc.dispatchTopk())
                .set(LlParams.O_DATA, heap.data())
                .set(LlParams.O_HDR, heap.headers())
                .set(LlParams.O_CNT, heap.count())
                .set(LlParams.O_CREG, heap.combineRows())
                .set(LlParams.SLOT, s)
                .set(LlParams.PHASE, phase.value())
                .set(LlParams.NUM_TOKENS, tokens)
                .set(LlParams.HIDDEN, hidden)
                .set(LlParams.TOPK, topk)
                .set(LlParams.EXPERTS, layout.llExperts)
                .set(LlParams.LOCAL_EXPERTS, layout.llLocalExperts)
                .set(LlParams.MAX_TOKENS, layout.llMaxTokens)
                .set(LlParams.MAX_TOPK, layout.maxTopk)
                .set(LlParams.MODE, mode.value())
                .set(LlParams.ROW_STRIDE, 2 * hidden)
                .set(LlParams.X_ROW_BYTES, mode == LlMode.BF16 ? 2 * hidden : hidden)
                .set(LlParams.SCALE_BYTES, mode.scaleBytes(hidden))
                .set(LlParams.SEND_BLOCKS, sendBlocks)
                .set(LlParams.TRACE, trace == null ? 0 : trace.pointer());
    }

    @Override
    public void close() {
        for (Carving c : combineInput) {
            if (c != null) {
                c.release();
            }
        }
        params.close();
        if (trace != null) {
            trace.close();
        }
    }
}
