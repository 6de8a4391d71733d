package ep4j.cuda;

import ep4j.DType;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.RecvHook;
import ep4j.Tensor;
import ep4j.codec.Fp8Mode;
import ep4j.cuda.driver.CudaFunction;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.KernelArgs;
import ep4j.cuda.driver.PinnedHostMemory;
import ep4j.cuda.kernel.DeviceOperation;
import ep4j.cuda.kernel.KernelConstants;
import ep4j.cuda.kernel.LlMode;
import ep4j.cuda.kernel.LlParams;
import ep4j.cuda.kernel.Params;
import ep4j.spi.Results;
import java.util.function.LongUnaryOperator;

/**
 * The low-latency (decoding) path of one rank's buffer (DESIGN 2.4, 2.5; kernels in
 * low_latency.cuh). Made at the first low-latency call, collectively: every rank allocates its
 * peer-visible region ({@link LowLatencyLayout}) and the ranks exchange its address once.
 *
 * <p>A dispatch launches a send kernel (each token once per destination rank, quantized on the
 * fly; per (expert, source) a token list and count) and a receive kernel that waits for every
 * source and packs rows by (local expert, source rank, source token). A combine launches a send
 * kernel on the expert side (each received row back to its token's home rank, once per (token,
 * expert)) and a receive kernel on the home side (fma over topk slots in order). With
 * {@code returnRecvHook} only the send kernel is launched; the hook launches the receive kernel
 * and waits. Two slots alternate; signals only grow (see the kernel file), so nothing is reset.
 *
 * <p>No kernel is launched before what it waits for has happened: the host first waits on the
 * host-mapped mirror of the signals (every peer's send done before a receive; every peer done
 * reading a slot before a send reuses it), so no kernel spins on the GPU for a peer's thread.
 * With one JVM driving several GPUs, a rank's thread was seen stuck in cuMemAlloc / cuMemFree
 * (the test allocating or freeing between two calls) for exactly as long as a peer's receive
 * kernel spun waiting for that rank's next send: both waited until the kernel's timeout.
 */
final class LowLatency implements AutoCloseable {
    /** Blocks of each send kernel: the same on every rank (receivers count one signal per block). */
    static final int SEND_BLOCKS = Math.max(1, Integer.getInteger("ep4j.cuda.llSendBlocks", 32));

    private final CudaBuffer buffer;
    private final LowLatencyLayout layout;
    private final DeviceMemory region;
    private final DeviceMemory local;
    private final PinnedHostMemory hostSignals;
    private final long[] peerBase;
    private final long[] hostBase;
    private final int device;
    private final int recvBlocks;
    private final Params params = new Params(LlParams.STRUCT);
    private final KernelArgs args = new KernelArgs();
    private final DeviceMemory[] combineIn = new DeviceMemory[2];

    /** Dispatch generation (0, 1, ...); slot = generation % 2. */
    private long generation = -1;
    private final long[] dispatchesOnSlot = new long[2];
    private final long[] combinesOnSlot = new long[2];
    private final DispatchState[] slots = new DispatchState[2];
    private final CombineState[] lastCombine = new CombineState[2];

    private static final class DispatchState {
        final long generation;
        final int slot;
        final long callOnSlot;
        final int topk;
        final int tokens;
        final LlMode mode;
        final DeviceErrors.Call record;
        boolean received;
        RuntimeException failed;

        DispatchState(long generation, int slot, long callOnSlot, int topk, int tokens, LlMode mode,
                DeviceErrors.Call record) {
            this.generation = generation;
            this.slot = slot;
            this.callOnSlot = callOnSlot;
            this.topk = topk;
            this.tokens = tokens;
            this.mode = mode;
            this.record = record;
        }
    }

    private static final class CombineState {
        final int slot;
        final long callOnSlot;
        final long topkIdx;
        final boolean topk64;
        final long weights;
        final int topk;
        final int tokens;
        final long out;
        final DeviceErrors.Call record;
        boolean received;
        boolean dropped;
        RuntimeException failed;

        CombineState(int slot, long callOnSlot, long topkIdx, boolean topk64, long weights, int topk, int tokens,
                long out, DeviceErrors.Call record) {
            this.record = record;
            this.slot = slot;
            this.callOnSlot = callOnSlot;
            this.topkIdx = topkIdx;
            this.topk64 = topk64;
            this.weights = weights;
            this.topk = topk;
            this.tokens = tokens;
            this.out = out;
        }
    }

    LowLatency(CudaBuffer buffer) {
        this.buffer = buffer;
        var spec = buffer.spec();
        this.layout = new LowLatencyLayout(buffer.ranks(), spec.lowLatencyMaxTokensPerRank(), spec.lowLatencyExperts(),
                spec.hidden(), spec.maxTopk());
        this.device = buffer.context().device().ordinal();
        this.recvBlocks = Math.max(1, Math.min(buffer.context().device().multiprocessorCount(), 64));
        DeviceMemory r = null;
        DeviceMemory l = null;
        PinnedHostMemory h = null;
        try {
            r = DeviceMemory.allocate(buffer.context(), layout.regionBytes());
            r.fill((byte) 0);
            l = DeviceMemory.allocate(buffer.context(), layout.localBytes());
            h = PinnedHostMemory.allocate(buffer.context(), LowLatencyLayout.SIGNAL_BYTES); // zero-filled
            buffer.context().synchronize();
        } catch (RuntimeException e) {
            if (r != null) {
                r.close();
            }
            if (l != null) {
                l.close();
            }
            if (h != null) {
                h.close();
            }
            buffer.markBroken("low-latency buffer allocation failed: " + e.getMessage());
            throw e;
        }
        this.region = r;
        this.local = l;
        this.hostSignals = h;
        Object[] all;
        try {
            all = buffer.exchange().allGather(buffer.rank(), "lowLatencyInit",
                    new long[] {region.address(), hostSignals.devicePointer()}, buffer.timeoutNanos());
        } catch (RuntimeException e) {
            buffer.markBroken("low-latency setup failed: " + e.getMessage());
            close();
            throw e;
        }
        peerBase = new long[all.length];
        hostBase = new long[all.length];
        for (int i = 0; i < all.length; i++) {
            peerBase[i] = ((long[]) all[i])[0];
            hostBase[i] = ((long[]) all[i])[1];
        }
    }

    // ------------------------------------------------------------------------------------ host waits

    /**
     * The first peer (not {@code self}) whose word {@code base + 8 * peer} stays below
     * {@code target} for {@code timeoutNanos}, or -1 once every peer's word reached it.
     */
    static int firstMissing(LongUnaryOperator word, int ranks, int self, long base, long target, long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        for (int j = 0; j < ranks; j++) {
            if (j == self) {
                continue; // our own kernels are ordered on our stream
            }
            long offset = base + 8L * j;
            while (word.applyAsLong(offset) < target) {
                if (System.nanoTime() - deadline > 0) {
                    return j;
                }
                Thread.onSpinWait();
            }
        }
        return -1;
    }

    /**
     * Waits on the host until every peer's mirror word [kind][slot] reached {@code target}; returns
     * the timeout the kernel gets: the full one when all arrived, else 0, so that the kernel
     * records the missing peer at once (as a timeout of its own) and still publishes what its
     * peers wait for.
     */
    private long awaitPeers(int kind, int slot, long target) {
        if (target <= 0) {
            return buffer.timeoutNanos();
        }
        int missing = firstMissing(hostSignals::getLongVolatile, layout.ranks, buffer.rank(),
                LowLatencyLayout.signal(kind, slot), target, buffer.timeoutNanos());
        return missing < 0 ? buffer.timeoutNanos() : 0;
    }

    // ------------------------------------------------------------------------------------ dispatch

    LowLatencyDispatched dispatch(LowLatencyDispatchArgs a, int localExperts) {
        if (localExperts != layout.local) {
            throw new InvalidArgumentException("numExperts", a.numExperts(),
                    buffer.spec().lowLatencyExperts() + " (the buffer's BufferSpec lowLatency numExperts)");
        }
        Tensor x = a.x();
        int tokens = (int) x.dim(0);
        int topk = (int) a.topkIdx().dim(1);
        Fp8Mode fp8 = a.useFp8() ? Fp8Mode.of(a.roundScale(), a.useUe8m0()) : null;
        LlMode mode = LlMode.of(fp8);
        int hidden = layout.hidden;

        long g = ++generation;
        int s = (int) (g & 1);
        long n = ++dispatchesOnSlot[s];
        DispatchState st = new DispatchState(g, s, n, topk, tokens, mode, buffer.openCall("lowLatencyDispatch"));
        slots[s] = st;

        // Send: wait until every peer is done with our previous dispatch on this slot (n - 1).
        long timeout = awaitPeers(LowLatencyLayout.DFREE, s, n - 1);
        begin(st.record, s, DeviceOperation.LL_DISPATCH, tokens, topk, mode, x.address(), a.topkIdx().address(),
                a.topkIdx().dtype() == DType.INT64, 0, 0, 0, LowLatencyLayout.DSIG, LowLatencyLayout.DFREE,
                n * SEND_BLOCKS, n - 1, n - 1, n, timeout);
        launch(buffer.kernels().llDispatchSend, SEND_BLOCKS, "lowLatencyDispatch");

        int capacity = layout.capacity;
        long rows = (long) layout.local * capacity;
        Tensor outX = Tensor.ofDevice(layout.recvX(local.address(), s), device,
                fp8 == null ? DType.BF16 : DType.FP8_E4M3, layout.local, capacity, hidden);
        Tensor outScales = null;
        if (fp8 != null) {
            outScales = Tensor.ofDevice(layout.recvScales(local.address(), s), device,
                    fp8.packedExponents() ? DType.INT32 : DType.FLOAT32, layout.local, capacity,
                    fp8.scaleElementsPerRow(hidden));
        }
        Tensor recvCount = Tensor.ofDevice(layout.recvCount(local.address(), s), device, DType.INT32, layout.local);
        Tensor sourceToken = Tensor.ofDevice(layout.sourceToken(local.address(), s), device, DType.INT32,
                layout.local, capacity);
        Tensor ranges = Tensor.ofDevice(layout.ranges(local.address(), s), device, DType.INT32, layout.local,
                layout.ranks, 2);
        assert rows >= 0;
        LowLatencyHandle handle = Results.lowLatencyHandle(buffer, s, g, a.numExperts(), tokens, sourceToken, ranges,
                () -> !buffer.isClosed() && generation - g < 2);
        RecvHook hook = () -> {
            receiveDispatch(st);
            return ep4j.EpEvent.completed();
        };
        LowLatencyDispatched d = Results.lowLatencyDispatched(outX, outScales, recvCount, handle,
                a.returnRecvHook() ? hook : null, () -> st.received && slots[st.slot] == st, ep4j.EpEvent.completed());
        if (!a.returnRecvHook()) {
            receiveDispatch(st);
        }
        return d;
    }

    private synchronized void receiveDispatch(DispatchState st) {
        if (st.received) {
            return;
        }
        if (buffer.isClosed()) {
            throw new IllegalStateException("EpBuffer of rank " + buffer.rank() + " was closed");
        }
        if (st.failed != null) {
            throw new IllegalStateException("low-latency dispatch #" + st.generation + " on rank " + buffer.rank()
                    + " failed: " + st.failed.getMessage(), st.failed);
        }
        if (slots[st.slot] != st || generation - st.generation >= 2) {
            throw new IllegalStateException("low-latency dispatch #" + st.generation + " on rank " + buffer.rank()
                    + " is stale: its buffer was reused by a later call before it was received");
        }
        int s = st.slot;
        long n = st.callOnSlot;
        buffer.context().makeCurrent();
        long timeout = awaitPeers(LowLatencyLayout.DSIG, s, n); // every peer's send of this call is done
        begin(st.record, s, DeviceOperation.LL_DISPATCH, st.tokens, st.topk, st.mode, 0, 0, false, 0, 0, 0,
                LowLatencyLayout.DSIG,
                LowLatencyLayout.DFREE, n * SEND_BLOCKS, n, n, 0, timeout);
        launch(buffer.kernels().llDispatchRecv, recvBlocks, "lowLatencyDispatch");
        try {
            buffer.completeCall(st.record, st.topk);
        } catch (RuntimeException e) {
            st.failed = e;
            throw e;
        }
        st.received = true;
    }

    // ------------------------------------------------------------------------------------ combine

    synchronized Tensor combineInput(LowLatencyHandle handle) {
        checkHandle(handle);
        int s = handle.slot();
        if (combineIn[s] == null) {
            combineIn[s] = DeviceMemory.allocate(buffer.context(), layout.combineInputBytes());
        }
        return Tensor.ofDevice(combineIn[s].address(), device, DType.BF16, layout.local, layout.capacity,
                layout.hidden);
    }

    private void checkHandle(LowLatencyHandle handle) {
        if (!buffer.spec().hasLowLatency()) {
            throw new InvalidArgumentException("BufferSpec.lowLatency", "not set",
                    "a buffer made with BufferSpec...lowLatency(maxTokensPerRank, numExperts)");
        }
        if (handle == null || !handle.belongsTo(buffer)) {
            throw new InvalidArgumentException("handle", handle == null ? null : "a handle of another buffer",
                    "a LowLatencyHandle made by this buffer");
        }
        DispatchState st = slots[handle.slot()];
        if (!handle.isValid() || st == null || st.generation != handle.generation()) {
            throw new InvalidArgumentException("handle", "stale (generation " + handle.generation() + ")",
                    "a handle of one of the last two low-latency dispatches");
        }
    }

    LowLatencyCombined combine(LowLatencyCombineArgs a) {
        LowLatencyHandle h = a.handle();
        checkHandle(h);
        int s = h.slot();
        DispatchState ds = slots[s];
        if (!ds.received) {
            throw new IllegalStateException("low-latency combine on rank " + buffer.rank()
                    + ": the dispatch of its handle (#" + h.generation()
                    + ") was not received yet; call its hook().receive() first");
        }
        int topk = (int) a.topkIdx().dim(1);
        if (topk != ds.topk) {
            throw new InvalidArgumentException("topkIdx.shape[1]", topk,
                    ds.topk + " (the topk of the low-latency dispatch of this handle)");
        }
        Tensor y = a.y();
        boolean inPlace = combineIn[s] != null && y.address() == combineIn[s].address();
        if (a.zeroCopy() && !inPlace) {
            throw new InvalidArgumentException("y", y + " at 0x" + Long.toHexString(y.address()),
                    "the tensor lowLatencyCombineInput(handle) returned (zeroCopy)");
        }
        int tokens = h.numTokens();
        Tensor out = a.out();
        boolean owns = out == null;
        if (owns) {
            out = buffer.pool().tensor(DType.BF16, tokens, layout.hidden);
        }
        CombineState prev = lastCombine[s];
        if (prev != null && !prev.received) {
            prev.dropped = true;
        }
        long n = ++combinesOnSlot[s];
        boolean topk64 = a.topkIdx().dtype() == DType.INT64;
        DeviceErrors.Call record = buffer.openCall("lowLatencyCombine");
        // Send: wait until every home rank is done with our previous combine on this slot (n - 1).
        long timeout = awaitPeers(LowLatencyLayout.CFREE, s, n - 1);
        begin(record, s, DeviceOperation.LL_COMBINE, tokens, topk, LlMode.BF16, 0, a.topkIdx().address(), topk64,
                a.topkWeights().address(),
                y.address(), out.address(), LowLatencyLayout.CSIG, LowLatencyLayout.CFREE, n * SEND_BLOCKS, n - 1,
                n - 1, n, timeout);
        try {
            launch(buffer.kernels().llCombineSend, SEND_BLOCKS, "lowLatencyCombine");
        } catch (RuntimeException e) {
            if (owns) {
                out.close();
            }
            throw e;
        }
        CombineState st = new CombineState(s, n, a.topkIdx().address(), topk64, a.topkWeights().address(), topk,
                tokens, out.address(), record);
        lastCombine[s] = st;
        RecvHook hook = () -> {
            receiveCombine(st);
            return ep4j.EpEvent.completed();
        };
        LowLatencyCombined c = Results.lowLatencyCombined(out, owns, a.returnRecvHook() ? hook : null,
                () -> st.received, ep4j.EpEvent.completed());
        if (!a.returnRecvHook()) {
            try {
                receiveCombine(st);
            } catch (RuntimeException e) {
                if (owns) {
                    out.close();
                }
                throw e;
            }
        }
        return c;
    }

    private synchronized void receiveCombine(CombineState st) {
        if (st.received) {
            return;
        }
        if (buffer.isClosed()) {
            throw new IllegalStateException("EpBuffer of rank " + buffer.rank() + " was closed");
        }
        if (st.failed != null) {
            throw new IllegalStateException("low-latency combine on rank " + buffer.rank() + " failed: "
                    + st.failed.getMessage(), st.failed);
        }
        if (st.dropped) {
            throw new IllegalStateException("low-latency combine call on rank " + buffer.rank()
                    + " is stale: a later low-latency combine reused its buffer before it was received");
        }
        long n = st.callOnSlot;
        buffer.context().makeCurrent();
        long timeout = awaitPeers(LowLatencyLayout.CSIG, st.slot, n); // every peer's send of this call is done
        begin(st.record, st.slot, DeviceOperation.LL_COMBINE, st.tokens, st.topk, LlMode.BF16, 0, st.topkIdx,
                st.topk64, st.weights, 0, st.out, LowLatencyLayout.CSIG, LowLatencyLayout.CFREE, n * SEND_BLOCKS, n, n, 0,
                timeout);
        launch(buffer.kernels().llCombineRecv, recvBlocks, "lowLatencyCombine");
        try {
            buffer.completeCall(st.record, st.topk);
        } catch (RuntimeException e) {
            st.failed = e;
            throw e;
        }
        st.received = true;
    }

    // ------------------------------------------------------------------------------------ kernels

    /**
     * Fills contract.cuh's LlParams for slot {@code s}. {@code sent}: a send kernel's call number
     * on the slot, for the host mirror (0 for receives).
     */
    private void begin(DeviceErrors.Call record, int s, DeviceOperation operation, int tokens, int topk, LlMode mode,
            long x, long topkIdx, boolean topk64, long weights, long y, long out, int sigKind, int freeKind, long target,
            long freeTarget, long publish, long sent, long timeoutNanos) {
        long base = local.address();
        int hidden = layout.hidden;
        params.clear()
                .set(LlParams.PEER_BASE, peerBase)
                .set(LlParams.HOST_BASE, hostBase)
                .set(LlParams.X, x)
                .set(LlParams.TOPK_IDX, topkIdx)
                .set(LlParams.WEIGHTS, weights)
                .set(LlParams.Y, y)
                .set(LlParams.OUT, out)
                .set(LlParams.RECV_X, layout.recvX(base, s))
                .set(LlParams.RECV_SCALES, layout.recvScales(base, s))
                .set(LlParams.RECV_COUNT, layout.recvCount(base, s))
                .set(LlParams.SOURCE_TOKEN, layout.sourceToken(base, s))
                .set(LlParams.RANGES, layout.ranges(base, s))
                .set(LlParams.FIRST_K, layout.firstK(base, s))
                .set(LlParams.DTOPK, layout.dispatchTopk(base, s))
                .set(LlParams.COUNTER, region.address() + LowLatencyLayout.COUNTER)
                .set(LlParams.ERROR, record.devicePointer())
                .set(LlParams.O_DATA, layout.data(s))
                .set(LlParams.O_LIST, layout.list(s))
                .set(LlParams.O_CNT, layout.count(s))
                .set(LlParams.O_CREG, layout.combineRows(s))
                .set(LlParams.O_SIG, LowLatencyLayout.signal(sigKind, s))
                .set(LlParams.O_FREE, LowLatencyLayout.signal(freeKind, s))
                .set(LlParams.TARGET, target)
                .set(LlParams.FREE_TARGET, freeTarget)
                .set(LlParams.PUBLISH, publish)
                .set(LlParams.SENT, sent)
                .set(LlParams.TIMEOUT_NS, timeoutNanos)
                .set(LlParams.RANK, buffer.rank())
                .set(LlParams.RANKS, layout.ranks)
                .set(LlParams.NUM_TOKENS, tokens)
                .set(LlParams.HIDDEN, hidden)
                .set(LlParams.TOPK, topk)
                .set(LlParams.TOPK64, topk64)
                .set(LlParams.EXPERTS, layout.experts)
                .set(LlParams.LOCAL_EXPERTS, layout.local)
                .set(LlParams.MAX_TOKENS, layout.maxTokens)
                .set(LlParams.MAX_TOPK, layout.maxTopk)
                .set(LlParams.MODE, mode.value())
                .set(LlParams.ROW_STRIDE, layout.rowStride)
                .set(LlParams.X_ROW_BYTES, mode == LlMode.BF16 ? 2 * hidden : hidden)
                .set(LlParams.SCALE_BYTES, mode.scaleBytes(hidden))
                .set(LlParams.OPERATION, operation.value());
    }

    private void launch(CudaFunction f, int blocks, String operation) {
        try {
            f.launch(blocks, 1, KernelConstants.LL_THREADS, 0, buffer.stream(),
                    args.reset().struct(params.segment(), LlParams.STRUCT.alignment()));
        } catch (RuntimeException e) {
            buffer.markBroken(operation + ": kernel launch failed: " + e.getMessage());
            throw e;
        }
    }

    @Override
    public void close() {
        // The owning buffer synchronized its stream before closing this.
        if (region != null) {
            region.close();
        }
        if (local != null) {
            local.close();
        }
        if (hostSignals != null) {
            hostSignals.close();
        }
        for (DeviceMemory m : combineIn) {
            if (m != null) {
                m.close();
            }
        }
        args.close();
        params.close();
    }
}
