package ep4j.cuda.normal;

import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpEvent;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import ep4j.cuda.control.CallRecords;
import ep4j.cuda.control.RankRuntime;
import ep4j.cuda.kernel.BulkDispatchShape;
import ep4j.cuda.kernel.CombineParams;
import ep4j.cuda.kernel.DispatchParams;
import ep4j.cuda.kernel.ExchangeParams;
import ep4j.cuda.kernel.HostSummaryLayout;
import ep4j.cuda.kernel.KernelConstants;
import ep4j.cuda.kernel.LayoutParams;
import ep4j.cuda.kernel.NotifyParams;
import ep4j.cuda.kernel.Params;
import ep4j.cuda.memory.Carving;
import ep4j.cuda.control.StageTimer;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.memory.HeapLayout;
import ep4j.spi.Generation;
import ep4j.spi.Results;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The normal (high-throughput) calls of one rank (DESIGN 2.1-2.3) on the device runtime: layout,
 * dispatch (count exchange, then the row copy) and combine. Every call is validated by the
 * buffer first; here it becomes one op of one launch (a dispatch whose rows are too large for the
 * bulk kernel's ring takes two: ep4j_notify, then the plain copy) and, for a synchronous call, a
 * wait on the op's stamp. No pointer crosses the host: a dispatch writes into this call's slot
 * of every receiver's heap, a combine reads each peer's expert output where the peer published
 * it.
 *
 * <p>Outputs. A dispatch's rows stay where they arrived, in one of two receive slots that
 * dispatches alternate: the tensors a {@link Dispatched} hands out are views, readable until the
 * dispatch after next refills the slot (then they throw instead of returning newer rows;
 * {@link Dispatched#keep()} copies them out first). Handles, layouts and combine outputs own
 * stream-ordered memory of their own.
 */
public final class NormalPath implements AutoCloseable {
    /** Work items interleave every destination, this rank's own included (measured faster on H200). */
    private static final int ORDER_INTERLEAVED = 1;
    /** {@code -Dep4j.cuda.bulkDispatch=false} keeps the plain 16-byte copy kernel, for comparison. */
    private static final boolean BULK_DISPATCH =
            !"false".equalsIgnoreCase(System.getProperty("ep4j.cuda.bulkDispatch"));
    /**
     * The bulk kernel runs the count exchange itself, one launch per dispatch;
     * {@code -Dep4j.cuda.dispatchExchange=false} launches ep4j_notify before it instead, for comparison.
     */
    private static final boolean EXCHANGE_IN_DISPATCH =
            !"false".equalsIgnoreCase(System.getProperty("ep4j.cuda.dispatchExchange"));

    private final RankRuntime rt;
    private final EpBuffer owner;
    private final Params layoutParams = new Params(LayoutParams.STRUCT);
    private final Params notifyParams = new Params(NotifyParams.STRUCT);
    private final Params dispatchParams = new Params(DispatchParams.STRUCT);
    private final Params combineParams = new Params(CombineParams.STRUCT);
    private final Generation[] slots = {new Generation("normal receive slot 0"), new Generation("normal receive slot 1")};
    private final StageTimer timer;
    private int nextSlot;

    public NormalPath(RankRuntime rt, EpBuffer owner, StageTimer timer) {
        this.rt = rt;
        this.owner = owner;
        this.timer = timer;
    }

    // ---------------------------------------------------------------- layout

    public DispatchLayout layout(Tensor topkIdx, int numExperts) {
        int t = (int) topkIdx.dim(0);
        int k = (int) topkIdx.dim(1);
        int r = rt.ranks;
        timer.call();
        CallRecords.Op op = rt.records.begin("layout", k);
        Carving out = Carving.of(rt::allocate, rt.context.device().ordinal(), 4L * r, 4L * numExperts, (long) t * r);
        Tensor perRank = out.tensor(0, DType.INT32, r);
        Tensor perExpert = out.tensor(1, DType.INT32, numExperts);
        Tensor inRank = out.tensor(2, DType.UINT8, t, r);
        rt.common(layoutParams, LayoutParams.COMMON)
                .set(LayoutParams.TOPK_IDX, topkIdx.address())
                .set(LayoutParams.IDX_IS_64, topkIdx.dtype() == DType.INT64)
                .set(LayoutParams.NUM_TOKENS, t)
                .set(LayoutParams.TOPK, k)
                .set(LayoutParams.NUM_EXPERTS, numExperts)
                .set(LayoutParams.LOCAL_EXPERTS, numExperts / r)
                .set(LayoutParams.PARTIALS, rt.local.address() + rt.layout.layoutPartials)
                .set(LayoutParams.TOKENS_PER_RANK, perRank.address())
                .set(LayoutParams.TOKENS_PER_EXPERT, perExpert.address())
                .set(LayoutParams.IS_TOKEN_IN_RANK, inRank.address());
        int threads = KernelConstants.LAYOUT_THREADS;
        int grid = Math.max(1, Math.min(KernelConstants.LAYOUT_MAX_BLOCKS, (t + threads - 1) / threads));
        timer.start(StageTimer.Stage.LAYOUT);
        rt.launch(rt.kernels.layout, grid, threads, 0, layoutParams);
        timer.stop(StageTimer.Stage.LAYOUT);
        try {
            rt.finish(op, false);
        } catch (RuntimeException e) {
            perRank.close();
            perExpert.close();
            inRank.close();
            throw e;
        }
        return Results.layout(numExperts, t, perRank, perExpert, inRank);
    }

    // ---------------------------------------------------------------- dispatch

    /** What a handle keeps besides the API's fields: counts for a cached dispatch. */
    record HandleState(int[] tokensPerExpert, Tensor tokensPerExpertDevice, boolean worstSized) {
    }

    public Dispatched dispatch(DispatchArgs a) {
        DispatchHandle cached = a.cachedHandle();
        if (rt.capturing() && cached == null && a.numWorstTokens() == 0) {
            throw new InvalidArgumentException("numWorstTokens", 0,
                    "> 0 for a dispatch inside captureGraph (its row count cannot come back to the host there)");
        }
        int r = rt.ranks;
        Tensor x = a.x();
        int t = (int) x.dim(0);
        int topk = cached == null && a.topkIdx() != null ? (int) a.topkIdx().dim(1) : 0;
        int slot = nextSlot;
        nextSlot ^= 1;
        HeapLayout.NormalSlot s = rt.layout.normal(slot);
        long generation = slots[slot].advance();
        timer.call();
        CallRecords.Op op = rt.records.begin("dispatch", topk);

        HandleState state = cached == null ? null : Results.backendState(cached, owner, HandleState.class);
        int localExperts;
        int worst;
        Tensor sendRow;
        Carving handleMemory = null;
        Tensor inRank = null;
        Tensor offsets = null;
        Tensor tpe;
        if (cached != null) {
            localExperts = (int) state.tokensPerExpertDevice().dim(0);
            sendRow = cached.sendRow();
            tpe = state.tokensPerExpertDevice();
            // A worst-sized routing keeps its unused tail rows defined in every later dispatch.
            worst = state.worstSized() ? (int) cached.numRows() : 0;
        } else {
            DispatchLayout layout = a.layout();
            localExperts = layout.numExperts() / r;
            worst = a.numWorstTokens();
            handleMemory = Carving.of(rt::allocate, rt.context.device().ordinal(), (long) t * r, 4L * t * r,
                    4L * (r + 1), 4L * localExperts);
            inRank = handleMemory.tensor(0, DType.UINT8, t, r);
            sendRow = handleMemory.tensor(1, DType.INT32, t, r);
            offsets = handleMemory.tensor(2, DType.INT32, r + 1);
            tpe = handleMemory.tensor(3, DType.INT32, localExperts);
        }

        int rowBytes = (int) x.rowBytes();
        int scaleBytes = a.scales() == null ? 0 : (int) a.scales().rowBytes();
        long bytes = (long) t * rowBytes * r;
        int grid = rt.blocks(a.config(), bytes, false);
        BulkDispatchShape shape = BULK_DISPATCH ? BulkDispatchShape.forRow(rowBytes, scaleBytes, t, grid) : null;
        // The count exchange: inside the bulk kernel, or a launch of its own before the plain one.
        boolean exchangeInDispatch = cached == null && shape != null && EXCHANGE_IN_DISPATCH;
        ExchangeParams.Values exchange = null;
        if (cached == null) {
            DispatchLayout layout = a.layout();
            exchange = new ExchangeParams.Values(layout.numExperts(), a.expertAlignment(), rt.layout.mailbox,
                    layout.isTokenInRank().address(), layout.tokensPerExpert().address(), inRank.address(),
                    offsets.address(), tpe.address(), rt.records.summaryPointer(slot));
        }
        if (cached == null && !exchangeInDispatch) {
            NotifyParams.EXCHANGE.fill(rt.common(notifyParams, NotifyParams.COMMON), exchange)
                    .set(NotifyParams.NUM_TOKENS, t)
                    .set(NotifyParams.LOCAL_EXPERTS, localExperts)
                    .set(NotifyParams.WORST_ROWS, worst)
                    .set(NotifyParams.SEND_ROW, sendRow.address())
                    .set(NotifyParams.RECV_TOTAL, offsets.address() + 4L * r);
            timer.start(StageTimer.Stage.NOTIFY);
            rt.launch(rt.kernels.notify, 1, KernelConstants.NOTIFY_THREADS, 0, notifyParams);
            timer.stop(StageTimer.Stage.NOTIFY);
        }

        // Rows this rank receives: the last of the handle's source-rank offsets (set by the count
        // exchange, kept by the handle for its cached dispatches).
        long received = (cached == null ? offsets : cached.sourceRankOffsets()).address() + 4L * r;
        rt.common(dispatchParams, DispatchParams.COMMON)
                .set(DispatchParams.NUM_TOKENS, t)
                .set(DispatchParams.ROW_BYTES, rowBytes)
                .set(DispatchParams.SCALE_BYTES, scaleBytes)
                .set(DispatchParams.TOPK, topk)
                .set(DispatchParams.IDX_IS_64, a.topkIdx() != null && a.topkIdx().dtype() == DType.INT64)
                .set(DispatchParams.LOCAL_EXPERTS, localExperts)
                .set(DispatchParams.WORST_ROWS, worst)
                .set(DispatchParams.ORDER, ORDER_INTERLEAVED)
                .set(DispatchParams.CACHED, cached != null)
                .set(DispatchParams.EXCHANGE, exchangeInDispatch)
                .set(DispatchParams.X, x.address())
                .set(DispatchParams.SCALES, a.scales() == null ? 0 : a.scales().address())
                .set(DispatchParams.TOPK_IDX, topk == 0 ? 0 : a.topkIdx().address())
                .set(DispatchParams.TOPK_WEIGHTS, topk == 0 || a.topkWeights() == null ? 0 : a.topkWeights().address())
                .set(DispatchParams.SEND_ROW, sendRow.address())
                .set(DispatchParams.RECV_TOTAL, received)
                .set(DispatchParams.O_X, s.x())
                .set(DispatchParams.O_SCALES, s.scales())
                .set(DispatchParams.O_IDX, s.topkIdx())
                .set(DispatchParams.O_WEIGHTS, topk > 0 && a.topkWeights() != null ? s.topkWeights() : -1)
                .set(DispatchParams.O_SOURCE, s.sourceToken());
        if (exchangeInDispatch) {
            DispatchParams.EXCHANGE_FIELDS.fill(dispatchParams, exchange);
        }
        timer.start(StageTimer.Stage.DISPATCH);
        if (shape != null) {
            rt.launch(rt.kernels.dispatchBulk, grid, shape.threads(), shape.sharedBytes(), dispatchParams);
        } else {
            rt.launch(rt.kernels.dispatch, grid, KernelConstants.DISPATCH_THREADS, 0, dispatchParams);
        }
        timer.stop(StageTimer.Stage.DISPATCH);

        long rows;
        int[] tpeHost;
        EpEvent event;
        try {
            if (cached != null) {
                rows = cached.numRows();
                tpeHost = state.tokensPerExpert();
            } else if (worst > 0) {
                rows = worst;
                tpeHost = null;
            } else {
                // The exact size is known once the count exchange published it (host-mapped
                // memory, read without a driver call); an async call returns then.
                MemorySegment summary = rt.summary(op, slot);
                rows = summary.get(ValueLayout.JAVA_INT, HostSummaryLayout.TOTAL.offset());
                tpeHost = CallRecords.tokensPerExpert(summary, localExperts);
            }
            event = rt.finish(op, a.async());
        } catch (RuntimeException e) {
            if (handleMemory != null) {
                inRank.close();
                sendRow.close();
                offsets.close();
                tpe.close();
            }
            throw e;
        }

        Views v = new Views(rt, slots[slot], generation);
        Tensor outX = v.of(rt.heap() + s.x(), x.dtype(), rows, x.dim(1));
        Tensor outScales = a.scales() == null ? null
                : v.of(rt.heap() + s.scales(), a.scales().dtype(), rows, a.scales().dim(1));
        Tensor tpeView = Views.of(rt, tpe, localExperts);
        if (cached != null) {
            return Results.cachedDispatched(outX, outScales, tpeView, tpeHost, cached, event, this::keep);
        }
        Tensor outIdx = topk == 0 ? null : v.of(rt.heap() + s.topkIdx(), a.topkIdx().dtype(), rows, topk);
        Tensor outWeights = topk == 0 || a.topkWeights() == null ? null
                : v.of(rt.heap() + s.topkWeights(), DType.FLOAT32, rows, topk);
        Tensor sourceToken = v.of(rt.heap() + s.sourceToken(), DType.INT32, rows);
        DispatchHandle handle = Results.handle(owner, t, rows, inRank, sendRow, sourceToken, offsets,
                new HandleState(tpeHost, tpe, worst > 0));
        return Results.dispatched(outX, outScales, outIdx, outWeights, tpeView, tpeHost, handle, event, this::keep);
    }

    /** Dispatched.keep(): a copy of a slot view in stream-ordered memory, copied on the rank's stream. */
    private Tensor keep(Tensor view) {
        long bytes = view.byteSize();
        Carving c = Carving.of(rt::allocate, view.device(), Math.max(bytes, 1));
        Tensor copy = c.tensor(0, view.dtype(), view.shape());
        if (bytes > 0) {
            DeviceMemory.copy(copy.address(), view.address(), bytes, rt.stream);
        }
        return copy;
    }

    // ---------------------------------------------------------------- combine

    public Combined combine(CombineArgs a) {
        DispatchHandle h = a.handle();
        int t = h.numTokens();
        int hidden = rt.spec.hidden();
        int topk = a.topkWeights() == null ? 0 : (int) a.topkWeights().dim(1);
        timer.call();
        CallRecords.Op op = rt.records.begin("combine", 0);
        Carving out = Carving.of(rt::allocate, rt.context.device().ordinal(), 2L * t * hidden, 4L * t * topk);
        Tensor outX = out.tensor(0, DType.BF16, t, hidden);
        Tensor outW;
        if (topk > 0) {
            outW = out.tensor(1, DType.FLOAT32, t, topk);
        } else {
            outW = null;
            out.release();
        }
        rt.common(combineParams, CombineParams.COMMON)
                .set(CombineParams.NUM_TOKENS, t)
                .set(CombineParams.HIDDEN, hidden)
                .set(CombineParams.TOPK, topk)
                .set(CombineParams.NUM_ROWS, (int) h.numRows())
                .set(CombineParams.IS_TOKEN_IN_RANK, h.isTokenInRank().address())
                .set(CombineParams.SEND_ROW, h.sendRow().address())
                .set(CombineParams.X, a.x().address())
                .set(CombineParams.WEIGHTS, topk == 0 ? 0 : a.topkWeights().address())
                .set(CombineParams.O_STAGE_X, rt.layout.stageX)
                .set(CombineParams.O_STAGE_W, rt.layout.stageWeights)
                .set(CombineParams.BIAS0, a.bias0() == null ? 0 : a.bias0().address())
                .set(CombineParams.BIAS1, a.bias1() == null ? 0 : a.bias1().address())
                .set(CombineParams.OUT, outX.address())
                .set(CombineParams.OUT_WEIGHTS, outW == null ? 0 : outW.address());
        int grid = rt.blocks(a.config(), (long) t * hidden * 2 * rt.ranks, true);
        timer.start(StageTimer.Stage.COMBINE);
        rt.launch(rt.kernels.combine(rt.ranks), grid, KernelConstants.COMBINE_THREADS, 0, combineParams);
        timer.stop(StageTimer.Stage.COMBINE);
        EpEvent event;
        try {
            event = rt.finish(op, a.async());
        } catch (RuntimeException e) {
            outX.close();
            if (outW != null) {
                outW.close();
            }
            throw e;
        }
        return Results.combined(outX, outW, event);
    }

    @Override
    public void close() {
        layoutParams.close();
        notifyParams.close();
        dispatchParams.close();
        combineParams.close();
    }
}
