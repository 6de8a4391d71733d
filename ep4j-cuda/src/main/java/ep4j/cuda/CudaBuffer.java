package ep4j.cuda;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.Config;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpEvent;
import ep4j.InvalidArgumentException;
import ep4j.KernelTiming;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.Tensor;
import ep4j.check.RequestValidator;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaEvent;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.KernelArgs;
import ep4j.cuda.driver.PinnedHostMemory;
import ep4j.cuda.exchange.RankExchange;
import ep4j.cuda.kernel.BulkDispatchShape;
import ep4j.cuda.kernel.CombineParams;
import ep4j.cuda.kernel.DeviceOperation;
import ep4j.cuda.kernel.DispatchParams;
import ep4j.cuda.kernel.KernelConstants;
import ep4j.cuda.kernel.Kernels;
import ep4j.cuda.kernel.LayoutParams;
import ep4j.cuda.kernel.NotifyParams;
import ep4j.cuda.kernel.Params;
import ep4j.cuda.kernel.SignalKind;
import ep4j.cuda.memory.DevicePool;
import ep4j.spi.Results;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One rank's buffer on its GPU: the signal array and mailbox that peers write into, the
 * rank's communication stream, and a caching pool for outputs. Calls are made from the rank's
 * thread; every normal call runs on the communication stream and synchronizes with peers
 * through GPU signals (common.cuh), and exchanges output pointers through the host.
 */
final class CudaBuffer implements EpBuffer {
    private static final long SIGNAL_BYTES = (long) SignalKind.COUNT.value() * KernelConstants.MAX_RANKS * 8;
    /** Each rank's count-exchange mailbox: [2][kMaxRanks][kMaxRanks + kMaxExperts] ints (notify.cuh). */
    private static final long MAILBOX_BYTES =
            2L * KernelConstants.MAX_RANKS * (KernelConstants.MAX_RANKS + KernelConstants.MAX_EXPERTS) * 4;
    private static final int EVENT_RING = 256;
    /**
     * Work items of the dispatch kernel interleave every destination, this rank's own included
     * (measured faster than peers-first on H200: 219 against 267 us at 24 SMs).
     */
    private static final int DISPATCH_ORDER_INTERLEAVED = 1;
    /**
     * Rows go through shared memory with bulk (TMA) copies when they fit; {@code
     * -Dep4j.cuda.bulkDispatch=false} keeps the plain 16-byte copy kernel, for comparison.
     */
    private static final boolean BULK_DISPATCH =
            !"false".equalsIgnoreCase(System.getProperty("ep4j.cuda.bulkDispatch"));

    private final CudaGroup group;
    private final int rank;
    private final BufferSpec spec;
    private final CudaContext context;
    private final Kernels kernels;
    private final RankExchange exchange;
    private final RequestValidator validator;
    private final CudaStream stream;
    private final DevicePool pool;
    private final DeviceMemory signals;
    private final DeviceMemory mailbox;
    private final DeviceMemory scratch;
    private final PinnedHostMemory summary;
    private final DeviceErrors errors;
    private final KernelArgs args = new KernelArgs();
    private final Params layoutParams = new Params(LayoutParams.STRUCT);
    private final Params notifyParams = new Params(NotifyParams.STRUCT);
    private final Params dispatchParams = new Params(DispatchParams.STRUCT);
    private final Params combineParams = new Params(CombineParams.STRUCT);
    private final CudaEvent[] events = new CudaEvent[EVENT_RING];
    private final long timeoutNanos;
    private CudaBuffer[] peers;
    private KernelTimer timer;
    private final KernelTiming timing = new CudaKernelTiming(this);
    private long seq;
    private int nextEvent;
    private volatile boolean closed;
    private volatile String broken;

    CudaBuffer(CudaGroup group, int rank, BufferSpec spec, RankExchange exchange) {
        this.group = group;
        this.rank = rank;
        this.spec = spec;
        this.context = group.context(rank);
        this.kernels = group.kernels(rank);
        this.exchange = exchange;
        this.validator = new RequestValidator(this, group.size(), context.device().ordinal(), spec);
        this.timeoutNanos = spec.timeout().toNanos();
        context.makeCurrent();
        // What is made so far, freed (last first) if a later step fails.
        List<AutoCloseable> made = new ArrayList<>(List.of(args, layoutParams, notifyParams, dispatchParams, combineParams));
        try {
            this.stream = keep(made, CudaStream.create(context, true));
            this.pool = keep(made, new DevicePool(context));
            this.signals = keep(made, DeviceMemory.allocate(context, SIGNAL_BYTES));
            this.signals.fill((byte) 0);
            this.mailbox = keep(made, DeviceMemory.allocate(context, MAILBOX_BYTES));
            this.scratch = keep(made, DeviceMemory.allocate(context, 256));
            this.scratch.fill((byte) 0);
            this.summary = keep(made, PinnedHostMemory.allocate(context, 4L * (KernelConstants.MAX_EXPERTS + 16)));
            this.errors = keep(made, new DeviceErrors(context, rank));
            for (int i = 0; i < EVENT_RING; i++) {
                events[i] = keep(made, CudaEvent.create(context, false));
            }
        } catch (RuntimeException | Error e) {
            for (int i = made.size() - 1; i >= 0; i--) {
                try {
                    made.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> made, T resource) {
        made.add(resource);
        return resource;
    }

    synchronized void enableTimer() {
        if (timer == null) {
            context.makeCurrent();
            timer = new KernelTimer(context);
        }
    }

    private SpanTimer spanTimer;

    /** The span timer of KernelTiming, made at first use. */
    synchronized SpanTimer spanTimer() {
        if (spanTimer == null) {
            context.makeCurrent();
            spanTimer = new SpanTimer(context, stream);
        }
        return spanTimer;
    }

    KernelTimer timer() {
        return timer;
    }

    @Override
    public Optional<KernelTiming> kernelTiming() {
        return Optional.of(timing);
    }

    private void phase(String name) {
        if (timer != null) {
            if (name == null) {
                timer.reset();
            }
            timer.phase(name);
        }
    }

    private void timeStart(KernelTimer.Stage stage) {
        if (timer != null) {
            timer.start(stage, stream);
        }
    }

    private void timeStop(KernelTimer.Stage stage) {
        if (timer != null) {
            timer.stop(stage, stream);
        }
    }

    void connect(CudaBuffer[] all) {
        this.peers = all;
    }

    private long blockCounter() {
        return scratch.address();
    }

    private long recvTotal() {
        return scratch.address() + 64;
    }

    private long taskCounter() {
        return scratch.address() + 128;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int ranks() {
        return group.size();
    }

    @Override
    public BufferSpec spec() {
        return spec;
    }

    @Override
    public int device() {
        return context.device().ordinal();
    }

    CudaStream stream() {
        return stream;
    }

    DevicePool pool() {
        return pool;
    }

    private void ensureUsable() {
        if (closed) {
            throw new IllegalStateException("EpBuffer of rank " + rank + " was closed");
        }
        if (broken != null) {
            throw new IllegalStateException("EpBuffer of rank " + rank + " is unusable after an earlier failure: " + broken);
        }
    }

    private void checkLimits(int numExperts) {
        if (group.size() > KernelConstants.MAX_RANKS) {
            throw new InvalidArgumentException("ranks", group.size(),
                    "at most " + KernelConstants.MAX_RANKS + " GPUs (one node)");
        }
        if (numExperts > KernelConstants.MAX_EXPERTS) {
            throw new InvalidArgumentException("numExperts", numExperts,
                    "at most " + KernelConstants.MAX_EXPERTS + " on the GPU backend");
        }
    }

    /** The launch arguments of a kernel that takes one parameter struct. */
    private KernelArgs struct(Params p) {
        return args.reset().struct(p.segment(), p.struct().alignment());
    }

    private long[] peerAddresses(java.util.function.ToLongFunction<CudaBuffer> f) {
        long[] out = new long[group.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = f.applyAsLong(peers[i]);
        }
        return out;
    }

    /**
     * Waits for the stream and raises what the kernels flagged. Spins on the stream's state
     * rather than blocking in the driver: results are usually microseconds away, and a blocked
     * thread's wake-up would cost more than the wait. Kernels end by themselves (their waits
     * time out), so the host deadline is only a backstop.
     */
    private void complete(DeviceErrors.Call call, int topk) {
        String operation = call.operation();
        long deadline = System.nanoTime() + 2 * timeoutNanos + 1_000_000_000L;
        while (!stream.isIdle()) {
            if (System.nanoTime() > deadline) {
                broken = operation + " did not finish within twice the timeout";
                throw new ep4j.EpTimeoutException(operation, rank, -1, "the GPU stream is still busy",
                        timeoutNanos / 1_000_000);
            }
            Thread.onSpinWait();
        }
        check(call, topk);
    }

    /**
     * Exchanges this call's pointers with the other ranks. A rank that times out here has counted
     * an exchange its peers have not, so the buffer can no longer pair calls: it refuses further work.
     */
    private Object[] gather(String operation, long[] pointers) {
        try {
            return exchange.allGather(rank, operation, pointers, timeoutNanos);
        } catch (ep4j.EpTimeoutException e) {
            broken = e.getMessage();
            throw e;
        }
    }

    /** Waits until the notify kernel of {@code call} has published the counts in host memory. */
    private void awaitSummary(DeviceErrors.Call record, long call, int topk) {
        String operation = record.operation();
        long deadline = System.nanoTime() + 2 * timeoutNanos + 1_000_000_000L;
        while (summary.getLongVolatile(0) < call) {
            if (System.nanoTime() > deadline) {
                broken = operation + ": the count exchange did not finish within twice the timeout";
                throw new ep4j.EpTimeoutException(operation, rank, -1, "no counts published for call #" + call,
                        timeoutNanos / 1_000_000);
            }
            Thread.onSpinWait();
        }
        check(record, topk);
    }

    private void check(DeviceErrors.Call call, int topk) {
        try {
            errors.raise(call, timeoutNanos / 1_000_000, topk);
        } catch (ep4j.EpTimeoutException e) {
            broken = e.getMessage();
            throw e;
        }
    }

    private EpEvent finish(DeviceErrors.Call call, boolean async, int topk) {
        if (!async) {
            complete(call, topk);
            return EpEvent.completed();
        }
        CudaEvent e = events[nextEvent++ % EVENT_RING];
        e.record(stream);
        return new CudaEpEvent(e, () -> check(call, topk));
    }

    private void awaitPrevious(EpEvent previous) {
        if (previous == null) {
            return;
        }
        if (previous instanceof CudaEpEvent ce) {
            stream.waitEvent(ce.cudaEvent());
        } else {
            previous.await();
        }
    }

    private int blocks(Config config, long bytes, boolean combine) {
        // Ranks that share a GPU share its SMs: their kernels wait for each other, so all must fit at once.
        int sms = context.device().multiprocessorCount() / group.ranksPerGpu();
        int n = config.isAuto() ? AutoConfig.sms(bytes, group.size(), combine) : config.numSms();
        return Math.max(1, Math.min(n, sms));
    }

    // ---------------------------------------------------------------- layout

    @Override
    public DispatchLayout layout(Tensor topkIdx, int numExperts) {
        phase(null);
        ensureUsable();
        validator.layout(topkIdx, numExperts);
        checkLimits(numExperts);
        int t = (int) topkIdx.dim(0);
        int k = (int) topkIdx.dim(1);
        int r = group.size();
        context.makeCurrent();
        Tensor perRank = pool.tensor(DType.INT32, r);
        Tensor perExpert = pool.tensor(DType.INT32, numExperts);
        Tensor inRank = pool.tensor(DType.UINT8, t, r);
        DeviceMemory.zeroAsync(perRank.address(), 4L * r, stream);
        DeviceMemory.zeroAsync(perExpert.address(), 4L * numExperts, stream);
        DeviceErrors.Call call = errors.open("layout");
        if (t > 0) {
            layoutParams.clear()
                    .set(LayoutParams.TOPK_IDX, topkIdx.address())
                    .set(LayoutParams.IDX_IS_64, topkIdx.dtype() == DType.INT64)
                    .set(LayoutParams.NUM_TOKENS, t)
                    .set(LayoutParams.TOPK, k)
                    .set(LayoutParams.NUM_EXPERTS, numExperts)
                    .set(LayoutParams.RANKS, r)
                    .set(LayoutParams.LOCAL_EXPERTS, numExperts / r)
                    .set(LayoutParams.TOKENS_PER_RANK, perRank.address())
                    .set(LayoutParams.TOKENS_PER_EXPERT, perExpert.address())
                    .set(LayoutParams.IS_TOKEN_IN_RANK, inRank.address())
                    .set(LayoutParams.ERROR, call.devicePointer());
            timeStart(KernelTimer.Stage.LAYOUT);
            int threads = KernelConstants.LAYOUT_THREADS;
            kernels.layout.launch((t + threads - 1) / threads, 1, threads, 0, stream, struct(layoutParams));
            timeStop(KernelTimer.Stage.LAYOUT);
        }
        try {
            complete(call, k);
        } catch (RuntimeException e) {
            perRank.close();
            perExpert.close();
            inRank.close();
            throw e;
        }
        return Results.layout(numExperts, t, perRank, perExpert, inRank);
    }

    // ---------------------------------------------------------------- dispatch

    /** What a handle keeps besides the common fields: counts for cached dispatch. */
    record HandleState(int[] tokensPerExpert, Tensor tokensPerExpertDevice, Tensor receivedRows, boolean worstSized)
            implements AutoCloseable {
        @Override
        public void close() {
            tokensPerExpertDevice.close();
            receivedRows.close();
        }
    }

    /**
     * The output blocks of one dispatch, taken from the pool before any kernel runs so that the
     * peers can be given their addresses up front. Each block holds {@code capacity} rows; the
     * tensors handed out cover the rows actually received ({@link #tensors}).
     */
    private final class Outputs {
        private final DeviceMemory[] blocks = new DeviceMemory[5];
        private final DType[] types = new DType[5];
        private final long[] widths = new long[5];
        private boolean handedOut;

        Outputs(DispatchArgs a, long capacity, boolean withTopk) {
            try {
                take(0, a.x().dtype(), a.x().dim(1), capacity);
                if (a.scales() != null) {
                    take(1, a.scales().dtype(), a.scales().dim(1), capacity);
                }
                if (withTopk && a.topkIdx() != null) {
                    take(2, a.topkIdx().dtype(), a.topkIdx().dim(1), capacity);
                    if (a.topkWeights() != null) {
                        take(3, DType.FLOAT32, a.topkIdx().dim(1), capacity);
                    }
                }
                take(4, DType.INT32, 1, capacity);
            } catch (RuntimeException e) {
                release();
                throw e;
            }
        }

        private void take(int i, DType type, long width, long capacity) {
            types[i] = type;
            widths[i] = width;
            blocks[i] = pool.take(Math.max(1, capacity * width * type.byteSize()));
        }

        boolean hasTopk() {
            return blocks[2] != null;
        }

        long[] pointers() {
            long[] p = new long[5];
            for (int i = 0; i < 5; i++) {
                p[i] = blocks[i] == null ? 0 : blocks[i].address();
            }
            return p;
        }

        /** The outputs as tensors of {@code rows} rows; each returns its block to the pool when closed. */
        Tensor[] tensors(long rows) {
            handedOut = true;
            Tensor[] out = new Tensor[5];
            for (int i = 0; i < 5; i++) {
                DeviceMemory b = blocks[i];
                if (b != null) {
                    out[i] = i == 4
                            ? Tensor.owned(null, b.address(), device(), types[i], () -> pool.give(b), rows)
                            : Tensor.owned(null, b.address(), device(), types[i], () -> pool.give(b), rows, widths[i]);
                }
            }
            return out;
        }

        void release() {
            if (!handedOut) {
                for (DeviceMemory b : blocks) {
                    if (b != null) {
                        pool.give(b);
                    }
                }
                handedOut = true;
            }
        }
    }

    @Override
    public Dispatched dispatch(DispatchArgs a) {
        phase(null);
        ensureUsable();
        validator.dispatch(a);
        DispatchHandle cached = a.cachedHandle();
        if (cached == null) {
            checkLimits(a.layout().numExperts());
        }
        context.makeCurrent();
        awaitPrevious(a.previous());
        final long call = ++seq;
        final int r = group.size();
        final Tensor x = a.x();
        final int t = (int) x.dim(0);
        final int topk = cached == null && a.topkIdx() != null ? (int) a.topkIdx().dim(1) : 0;
        final String op = "dispatch";
        final DeviceErrors.Call record = errors.open(op);
        phase("validate");

        final Tensor sendRow;
        final Tensor inRank;
        final Tensor offsets;
        final Tensor tpeDevice;
        final int localExperts;
        final int worst;
        final long receivedRows;
        final Outputs out;
        HandleState state = null;
        if (cached != null) {
            state = Results.backendState(cached, this, HandleState.class);
            receivedRows = state.receivedRows().address();
            sendRow = cached.sendRow();
            inRank = cached.isTokenInRank();
            offsets = cached.sourceRankOffsets();
            localExperts = (int) state.tokensPerExpertDevice().dim(0);
            tpeDevice = pool.tensor(DType.INT32, localExperts);
            DeviceMemory.copy(tpeDevice.address(), state.tokensPerExpertDevice().address(), 4L * localExperts, stream);
            out = new Outputs(a, cached.numRows(), false);
            // A worst-sized routing keeps its unused tail rows defined in every later dispatch.
            worst = state.worstSized() ? (int) cached.numRows() : 0;
        } else {
            DispatchLayout layout = a.layout();
            localExperts = layout.numExperts() / r;
            receivedRows = recvTotal();
            worst = a.numWorstTokens();
            sendRow = pool.tensor(DType.INT32, t, r);
            inRank = pool.tensor(DType.UINT8, t, r);
            offsets = pool.tensor(DType.INT32, r + 1);
            tpeDevice = pool.tensor(DType.INT32, localExperts);
            if ((long) t * r > 0) {
                DeviceMemory.copy(inRank.address(), layout.isTokenInRank().address(), (long) t * r, stream);
            }
            // No rank receives more than every rank's largest batch: blocks of that capacity let
            // the count exchange and the copy run back to back, with no host round trip between.
            out = new Outputs(a, worst > 0 ? worst : (long) r * spec.maxTokensPerRank(), true);
        }
        phase("prepare");
        Object[] all;
        try {
            all = gather(op, out.pointers());
        } catch (RuntimeException e) {
            out.release();
            throw e;
        }
        phase("exchange");
        if (cached == null) {
            // Only now, when every rank has passed its allocations: a kernel spinning for a peer
            // whose thread is still in cuMemAlloc can stall that allocation until the timeout.
            launchNotify(record, call, t, a.layout().numExperts(), localExperts, a.expertAlignment(), worst, inRank,
                    a.layout().tokensPerExpert(), sendRow, offsets, tpeDevice);
        }
        long[][] ptrs = new long[5][r];
        for (int j = 0; j < r; j++) {
            long[] p = (long[]) all[j];
            for (int f = 0; f < 5; f++) {
                ptrs[f][j] = p[f];
            }
        }
        int rowBytes = (int) x.rowBytes();
        int scaleBytes = a.scales() == null ? 0 : (int) a.scales().rowBytes();
        long bytes = (long) t * rowBytes * r;
        int grid = blocks(a.config(), bytes, false);
        dispatchParams.clear()
                .set(DispatchParams.RANK, rank)
                .set(DispatchParams.RANKS, r)
                .set(DispatchParams.NUM_TOKENS, t)
                .set(DispatchParams.ROW_BYTES, rowBytes)
                .set(DispatchParams.SCALE_BYTES, scaleBytes)
                .set(DispatchParams.TOPK, out.hasTopk() ? topk : 0)
                .set(DispatchParams.IDX_IS_64, a.topkIdx() != null && a.topkIdx().dtype() == DType.INT64)
                .set(DispatchParams.LOCAL_EXPERTS, localExperts)
                .set(DispatchParams.WORST_ROWS, worst)
                .set(DispatchParams.OPERATION, DeviceOperation.DISPATCH.value())
                .set(DispatchParams.ORDER, DISPATCH_ORDER_INTERLEAVED)
                .set(DispatchParams.X, x.address())
                .set(DispatchParams.SCALES, a.scales() == null ? 0 : a.scales().address())
                .set(DispatchParams.TOPK_IDX, a.topkIdx() == null ? 0 : a.topkIdx().address())
                .set(DispatchParams.TOPK_WEIGHTS, a.topkWeights() == null ? 0 : a.topkWeights().address())
                .set(DispatchParams.IS_TOKEN_IN_RANK, inRank.address())
                .set(DispatchParams.SEND_ROW, sendRow.address())
                .set(DispatchParams.RECV_TOTAL, receivedRows)
                .set(DispatchParams.OUT_X, ptrs[0])
                .set(DispatchParams.OUT_SCALES, ptrs[1])
                .set(DispatchParams.OUT_IDX, ptrs[2])
                .set(DispatchParams.OUT_WEIGHTS, ptrs[3])
                .set(DispatchParams.OUT_SOURCE, ptrs[4])
                .set(DispatchParams.SIGNALS, peerAddresses(b -> b.signals.address()))
                .set(DispatchParams.BLOCK_COUNTER, blockCounter())
                .set(DispatchParams.TASK_COUNTER, taskCounter())
                .set(DispatchParams.SEQ, call)
                .set(DispatchParams.TIMEOUT_NS, timeoutNanos)
                .set(DispatchParams.ERROR, record.devicePointer());
        BulkDispatchShape shape = BULK_DISPATCH ? BulkDispatchShape.forRow(rowBytes, scaleBytes) : null;
        timeStart(KernelTimer.Stage.DISPATCH);
        if (shape != null) {
            kernels.dispatchBulk.launch(grid, 1, shape.threads(), shape.sharedBytes(), stream, struct(dispatchParams));
        } else {
            kernels.dispatch.launch(grid, 1, KernelConstants.DISPATCH_THREADS, 0, stream, struct(dispatchParams));
        }
        timeStop(KernelTimer.Stage.DISPATCH);
        phase("launch");

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
                // The exact size is known once the count exchange has published it; an async
                // call returns then, with the copy still running.
                awaitSummary(record, call, topk);
                // Mapped host memory is slow to read word by word (about a microsecond per read
                // measured on H200 hosts): one bulk copy takes the whole summary.
                int[] counts = new int[1 + localExperts];
                MemorySegment.copy(summary.segment(), ValueLayout.JAVA_INT, 8, counts, 0, counts.length);
                rows = counts[0];
                tpeHost = java.util.Arrays.copyOfRange(counts, 1, counts.length);
            }
            event = finish(record, a.async(), topk);
            phase("complete");
        } catch (RuntimeException e) {
            out.release();
            if (cached == null) {
                for (Tensor z : new Tensor[] {sendRow, inRank, offsets}) {
                    z.close();
                }
            }
            tpeDevice.close();
            throw e;
        }
        Tensor[] o = out.tensors(rows);
        DispatchHandle handle;
        if (cached != null) {
            handle = cached;
            o[4].close();
        } else {
            Tensor tpeKeep = pool.tensor(DType.INT32, localExperts);
            DeviceMemory.copy(tpeKeep.address(), tpeDevice.address(), 4L * localExperts, stream);
            Tensor received = pool.tensor(DType.INT32, 1);
            DeviceMemory.copy(received.address(), recvTotal(), 4, stream);
            handle = Results.handle(this, t, rows, inRank, sendRow, o[4], offsets,
                    new HandleState(tpeHost, tpeKeep, received, worst > 0));
        }
        return cached == null ? Results.dispatched(o[0], o[1], o[2], o[3], tpeDevice, tpeHost, handle, event)
                : Results.cachedDispatched(o[0], o[1], tpeDevice, tpeHost, handle, event);
    }

    private void launchNotify(DeviceErrors.Call record, long call, int t, int experts, int local, int alignment,
            int worst, Tensor inRank, Tensor tokensPerExpert, Tensor sendRow, Tensor offsets, Tensor tpe) {
        notifyParams.clear()
                .set(NotifyParams.RANK, rank)
                .set(NotifyParams.RANKS, group.size())
                .set(NotifyParams.NUM_TOKENS, t)
                .set(NotifyParams.NUM_EXPERTS, experts)
                .set(NotifyParams.LOCAL_EXPERTS, local)
                .set(NotifyParams.EXPERT_ALIGNMENT, alignment)
                .set(NotifyParams.WORST_ROWS, worst)
                .set(NotifyParams.IS_TOKEN_IN_RANK, inRank.address())
                .set(NotifyParams.TOKENS_PER_EXPERT, tokensPerExpert.address())
                .set(NotifyParams.MAILBOX, peerAddresses(b -> b.mailbox.address()))
                .set(NotifyParams.SIGNALS, peerAddresses(b -> b.signals.address()))
                .set(NotifyParams.SEQ, call)
                .set(NotifyParams.TIMEOUT_NS, timeoutNanos)
                .set(NotifyParams.SEND_ROW, sendRow.address())
                .set(NotifyParams.RECV_OFFSETS, offsets.address())
                .set(NotifyParams.RECV_TOKENS_PER_EXPERT, tpe.address())
                .set(NotifyParams.RECV_TOTAL, recvTotal())
                .set(NotifyParams.HOST_SUMMARY, summary.devicePointer())
                .set(NotifyParams.ERROR, record.devicePointer());
        timeStart(KernelTimer.Stage.NOTIFY);
        kernels.notify.launch(1, 1, KernelConstants.NOTIFY_THREADS, 0, stream, struct(notifyParams));
        timeStop(KernelTimer.Stage.NOTIFY);
    }

    // ---------------------------------------------------------------- combine

    @Override
    public Combined combine(CombineArgs a) {
        phase(null);
        ensureUsable();
        validator.combine(a);
        context.makeCurrent();
        awaitPrevious(a.previous());
        final long call = ++seq;
        final DispatchHandle h = a.handle();
        final int r = group.size();
        final int t = h.numTokens();
        final int hidden = spec.hidden();
        final int topk = a.topkWeights() == null ? 0 : (int) a.topkWeights().dim(1);
        final DeviceErrors.Call record = errors.open("combine");
        Tensor out = pool.tensor(DType.BF16, t, hidden);
        Tensor outW = topk == 0 ? null : pool.tensor(DType.FLOAT32, t, topk);
        Object[] all;
        try {
            all = gather("combine",
                    new long[] {a.x().address(), a.topkWeights() == null ? 0 : a.topkWeights().address()});
        } catch (RuntimeException e) {
            out.close();
            if (outW != null) {
                outW.close();
            }
            throw e;
        }
        long[] xs = new long[r];
        long[] ws = new long[r];
        for (int j = 0; j < r; j++) {
            xs[j] = ((long[]) all[j])[0];
            ws[j] = ((long[]) all[j])[1];
        }
        long bytes = (long) t * hidden * 2 * r;
        int grid = blocks(a.config(), bytes, true);
        combineParams.clear()
                .set(CombineParams.RANK, rank)
                .set(CombineParams.RANKS, r)
                .set(CombineParams.NUM_TOKENS, t)
                .set(CombineParams.HIDDEN, hidden)
                .set(CombineParams.TOPK, topk)
                .set(CombineParams.OPERATION, DeviceOperation.COMBINE.value())
                .set(CombineParams.IS_TOKEN_IN_RANK, h.isTokenInRank().address())
                .set(CombineParams.SEND_ROW, h.sendRow().address())
                .set(CombineParams.X, xs)
                .set(CombineParams.WEIGHTS, ws)
                .set(CombineParams.BIAS0, a.bias0() == null ? 0 : a.bias0().address())
                .set(CombineParams.BIAS1, a.bias1() == null ? 0 : a.bias1().address())
                .set(CombineParams.OUT, out.address())
                .set(CombineParams.OUT_WEIGHTS, outW == null ? 0 : outW.address())
                .set(CombineParams.SIGNALS, peerAddresses(b -> b.signals.address()))
                .set(CombineParams.BLOCK_COUNTER, blockCounter())
                .set(CombineParams.SEQ, call)
                .set(CombineParams.TIMEOUT_NS, timeoutNanos)
                .set(CombineParams.ERROR, record.devicePointer());
        timeStart(KernelTimer.Stage.COMBINE);
        kernels.combine(r).launch(grid, 1, KernelConstants.COMBINE_THREADS, 0, stream, struct(combineParams));
        timeStop(KernelTimer.Stage.COMBINE);
        EpEvent event;
        try {
            event = finish(record, a.async(), 0);
        } catch (RuntimeException e) {
            out.close();
            if (outW != null) {
                outW.close();
            }
            throw e;
        }
        return Results.combined(out, outW, event);
    }

    // ---------------------------------------------------------------- low latency

    private LowLatency lowLatency;

    /** The low-latency path, made on the first low-latency call (collective: all ranks make it). */
    private LowLatency lowLatency() {
        if (lowLatency == null) {
            lowLatency = new LowLatency(this);
        }
        return lowLatency;
    }

    @Override
    public LowLatencyDispatched lowLatencyDispatch(LowLatencyDispatchArgs args) {
        ensureUsable();
        int localExperts = validator.lowLatencyDispatch(args);
        checkLimits(args.numExperts());
        context.makeCurrent();
        return lowLatency().dispatch(args, localExperts);
    }

    @Override
    public LowLatencyCombined lowLatencyCombine(LowLatencyCombineArgs args) {
        ensureUsable();
        validator.lowLatencyCombine(args);
        context.makeCurrent();
        return lowLatency().combine(args);
    }

    @Override
    public Tensor lowLatencyCombineInput(LowLatencyHandle handle) {
        ensureUsable();
        return lowLatency().combineInput(handle);
    }

    // ---------------------------------------------------------------- for the low-latency path

    CudaContext context() {
        return context;
    }

    Kernels kernels() {
        return kernels;
    }

    RankExchange exchange() {
        return exchange;
    }

    CudaGroup group() {
        return group;
    }

    long timeoutNanos() {
        return timeoutNanos;
    }

    /** A fresh error record for a call of the low-latency path. */
    DeviceErrors.Call openCall(String operation) {
        return errors.open(operation);
    }

    /** Waits for the stream, then raises what the kernels flagged (for the low-latency path). */
    void completeCall(DeviceErrors.Call call, int topk) {
        complete(call, topk);
    }

    /** Marks the buffer unusable (a failed low-latency exchange leaves peers' state unknown). */
    void markBroken(String why) {
        broken = why;
    }

    // ---------------------------------------------------------------- lifecycle

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        context.makeCurrent();
        try {
            stream.synchronize();
        } finally {
            for (CudaEvent e : events) {
                e.close();
            }
            if (timer != null) {
                timer.close();
            }
            if (spanTimer != null) {
                spanTimer.close();
            }
            if (lowLatency != null) {
                lowLatency.close();
            }
            stream.close();
            pool.close();
            signals.close();
            mailbox.close();
            scratch.close();
            summary.close();
            errors.close();
            args.close();
            layoutParams.close();
            notifyParams.close();
            dispatchParams.close();
            combineParams.close();
        }
    }
}
