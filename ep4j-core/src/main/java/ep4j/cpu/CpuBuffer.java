package ep4j.cpu;

import ep4j.BufferSpec;
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
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.OwnedResult;
import ep4j.RecvHook;
import ep4j.Tensor;
import ep4j.check.RequestValidator;
import ep4j.codec.Fp8Mode;
import ep4j.codec.Fp8Quantizer;
import ep4j.spi.HostMemory;
import ep4j.spi.Results;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One rank's buffer of a {@link CpuGroup}. Every collective call is a numbered post on the
 * shared {@link Exchange}; each rank pulls what it receives from its peers' memory in its own
 * thread (whole rows, bulk copies), then tells the senders it is done reading.
 *
 * <p>Semantics are those of DESIGN 2, with these definitions where the design leaves a choice:
 * <ul>
 *   <li>A token that lists one expert in several topk slots selected it once: it counts once in
 *       the per-expert counts, and a low-latency dispatch sends it once to that expert. Its
 *       received topk slots keep every occurrence (normal dispatch), and low-latency combine
 *       adds every slot's {@code w * y} (they read the same row).</li>
 *   <li>Low-latency combine takes the same {@code topkIdx} as the dispatch of its handle;
 *       another one is an {@link InvalidArgumentException} naming the first differing entry.</li>
 *   <li>Low-latency hooks: a dispatch's results and hook go stale after two more low-latency
 *       dispatches on the buffer; a combine's hook goes stale when a later low-latency combine
 *       uses the same dispatch slot. A low-latency combine needs its dispatch received.</li>
 *   <li>All ranks must make the same calls in the same order on a buffer; a different call under
 *       the same number (dispatch here, combine there; fp8 here, bf16 there; handles of different
 *       dispatches) is an {@link ep4j.EpException} "collective mismatch" on the ranks involved.</li>
 * </ul>
 * Calls on one rank's buffer are serialized (a hook may be called from any thread).
 */
final class CpuBuffer implements EpBuffer {
    private final Exchange ex;
    private final int rank;
    private final int ranks;
    private final BufferSpec spec;
    private final RequestValidator validator;
    private final HostPool pool = new HostPool();
    private final List<AutoCloseable> results = new ArrayList<>();
    private volatile boolean closed;
    private final Object closeLock = new Object();

    /** Collective calls posted by this rank on this buffer. */
    private long seq;

    // ---- low latency state (guarded by this)
    private LowLatencyMemory ll;
    private final LlSlot[] slots = {new LlSlot(), new LlSlot()};
    private final LlCombine[] lastCombine = new LlCombine[2];
    /** The latest low-latency dispatch generation started here (-1: none). */
    private volatile long llGen = -1;

    /** Runs once, when this buffer is closed. */
    private final Runnable onClose;

    CpuBuffer(Exchange ex, int rank, int ranks, BufferSpec spec, Runnable onClose) {
        this.ex = ex;
        this.onClose = onClose;
        this.rank = rank;
        this.ranks = ranks;
        this.spec = spec;
        this.validator = new RequestValidator(this, ranks, Tensor.HOST, spec);
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int ranks() {
        return ranks;
    }

    @Override
    public BufferSpec spec() {
        return spec;
    }

    @Override
    public int device() {
        return Tensor.HOST;
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("EpBuffer of rank " + rank + " (cpu) is closed");
        }
    }

    private static <T> T required(String name, T value) {
        if (value == null) {
            throw new InvalidArgumentException(name, null, "a value");
        }
        return value;
    }

    private void track(AutoCloseable result) {
        synchronized (results) {
            if (results.size() >= 64) {
                results.removeIf(r -> r instanceof OwnedResult o && o.isClosed());
            }
            results.add(result);
        }
    }

    private static void awaitPrevious(EpEvent previous) {
        if (previous != null) {
            previous.await();
        }
    }

    // ------------------------------------------------------------------------------------ layout

    @Override
    public synchronized DispatchLayout layout(Tensor topkIdx, int numExperts) {
        checkOpen();
        validator.layout(topkIdx, numExperts);
        int tokens = (int) topkIdx.dim(0);
        int topk = (int) topkIdx.dim(1);
        int[] idx = Routing.readTopk("topkIdx", topkIdx, numExperts);
        Routing.Layout l = Routing.layout(idx, tokens, topk, ranks, numExperts);
        Tensor perRank = pool.tensor(DType.INT32, ranks);
        Tensor perExpert = pool.tensor(DType.INT32, numExperts);
        Tensor inRank = pool.tensor(DType.UINT8, tokens, ranks);
        Routing.writeInts(l.tokensPerRank(), perRank);
        Routing.writeInts(l.tokensPerExpert(), perExpert);
        MemorySegment.copy(l.isTokenInRank(), 0, inRank.segment(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0,
                l.isTokenInRank().length);
        DispatchLayout layout = Results.layout(numExperts, tokens, perRank, perExpert, inRank);
        track(layout);
        return layout;
    }

    // ------------------------------------------------------------------------------------ normal dispatch

    /** What a rank publishes for a normal dispatch. */
    private record DispatchPost(MemorySegment x, long xRowBytes, MemorySegment scales, long scaleRowBytes,
            int[][] tokensTo, int[] idx, float[] weights, int topk, int[] perExpert, int numWorst) {
    }

    /** The CPU part of a {@link DispatchHandle}: host copies of its routing. */
    record HandleState(long routingId, int numExperts, int[] sendRow, int[] sourceToken, int[] offsets,
            int[] recvPerExpert, boolean worstSized) {
    }

    @Override
    public synchronized Dispatched dispatch(DispatchArgs a) {
        checkOpen();
        required("args", a);
        awaitPrevious(a.previous());
        validator.dispatch(a);
        Tensor x = a.x();
        int tokens = (int) x.dim(0);
        int hidden = spec.hidden();
        long xRowBytes = (long) hidden * x.dtype().byteSize();
        Tensor scales = a.scales();
        long scaleRowBytes = scales == null ? 0 : scales.dim(1) * scales.dtype().byteSize();
        String data = scales == null ? "bf16" : "fp8+" + scales.dtype() + "[" + scales.dim(1) + "]";
        DispatchHandle cached = a.cachedHandle();
        if (cached != null) {
            HandleState st = Results.backendState(cached, this, HandleState.class);
            return cachedDispatch(a, st, cached, x, scales, xRowBytes, scaleRowBytes,
                    "dispatch(" + data + ", routing of call #" + st.routingId() + ")");
        }

        DispatchLayout layout = a.layout();
        int numExperts = layout.numExperts();
        int local = numExperts / ranks;
        byte[] inRank = readLayoutIsTokenInRank(layout, tokens);
        int[] perExpert = readLayoutCounts("layout.tokensPerExpert", layout.tokensPerExpert(), numExperts);
        int[] idx = null;
        int topk = 0;
        if (a.topkIdx() != null) {
            topk = (int) a.topkIdx().dim(1);
            idx = Routing.readTopk("topkIdx", a.topkIdx(), numExperts);
            checkLayoutMatches(layout, idx, tokens, topk, numExperts, inRank, perExpert);
        }
        float[] weights = a.topkWeights() == null ? null : Routing.readFloats(a.topkWeights());
        int[][] tokensTo = Routing.tokensTo(inRank, tokens, ranks);
        int numWorst = a.numWorstTokens();
        String signature = "dispatch(" + data + ", " + numExperts + " experts, topk=" + (idx == null ? "none" : topk)
                + (weights != null ? "+weights" : "") + ")";

        long call = ++seq;
        Exchange.Post mine = new Exchange.Post(rank, call, signature, new DispatchPost(x.segment(), xRowBytes,
                scales == null ? null : scales.segment(), scaleRowBytes, tokensTo, idx, weights, topk, perExpert,
                numWorst), ranks);
        ex.post(mine);
        Exchange.Post[] posts = ex.awaitPosts(this, "dispatch", call, signature);
        DispatchPost[] in = new DispatchPost[ranks];
        for (int i = 0; i < ranks; i++) {
            in[i] = (DispatchPost) posts[i].payload;
        }
        Tensor[] out = new Tensor[9];
        boolean done = false;
        try {
            // Every rank computes every rank's row count, so a too-small numWorstTokens fails everywhere alike.
            int[] received = new int[ranks];
            for (int j = 0; j < ranks; j++) {
                for (int i = 0; i < ranks; i++) {
                    received[j] += in[i].tokensTo()[j].length;
                }
            }
            for (int j = 0; j < ranks; j++) {
                int worst = in[j].numWorst();
                if (worst > 0 && received[j] > worst) {
                    throw new InvalidArgumentException("numWorstTokens", worst,
                            "at least " + received[j] + " rows (received on rank " + j + ")");
                }
            }
            int nRecv = received[rank];
            int rows = numWorst > 0 ? numWorst : nRecv;

            // Receive: rows of source rank i, in source token order, pulled from i's x.
            Tensor recvX = out[0] = pool.tensor(x.dtype(), rows, hidden);
            Tensor recvScales = out[1] = scales == null ? null : pool.tensor(scales.dtype(), rows, scales.dim(1));
            int[] sourceToken = new int[rows];
            int[] offsets = new int[ranks + 1];
            int[] recvIdx = idx == null ? null : new int[rows * topk];
            float[] recvW = weights == null ? null : new float[rows * topk];
            int lo = rank * local;
            int hi = lo + local;
            int row = 0;
            for (int i = 0; i < ranks; i++) {
                offsets[i] = row;
                DispatchPost p = in[i];
                int[] toks = p.tokensTo()[rank];
                Routing.copyRows(p.x(), xRowBytes, toks, 0, toks.length, recvX.segment(), row);
                if (recvScales != null) {
                    Routing.copyRows(p.scales(), scaleRowBytes, toks, 0, toks.length, recvScales.segment(), row);
                }
                for (int n = 0; n < toks.length; n++) {
                    int t = toks[n];
                    sourceToken[row + n] = t;
                    if (recvIdx != null) {
                        for (int k = 0; k < topk; k++) {
                            int e = p.idx()[t * topk + k];
                            boolean kept = e >= lo && e < hi;
                            recvIdx[(row + n) * topk + k] = kept ? e - lo : -1;
                            if (recvW != null) {
                                recvW[(row + n) * topk + k] = kept ? p.weights()[t * topk + k] : 0f;
                            }
                        }
                    }
                }
                ex.markRead(posts[i], rank);
                row += toks.length;
            }
            offsets[ranks] = row;
            fillTail(recvX, row, xRowBytes);
            if (recvScales != null) {
                fillTail(recvScales, row, scaleRowBytes);
            }
            Arrays.fill(sourceToken, row, rows, -1);
            if (recvIdx != null) {
                Arrays.fill(recvIdx, row * topk, rows * topk, -1);
            }
            Tensor recvIdxT = out[2] = recvIdx == null ? null : pool.tensor(a.topkIdx().dtype(), rows, topk);
            if (recvIdx != null) {
                Routing.writeIndices(recvIdx, recvIdxT);
            }
            Tensor recvWT = out[3] = recvW == null ? null : pool.tensor(DType.FLOAT32, rows, topk);
            if (recvW != null) {
                Routing.writeFloats(recvW, recvWT);
            }

            int[] recvPerExpert = new int[local];
            for (int i = 0; i < ranks; i++) {
                for (int l = 0; l < local; l++) {
                    recvPerExpert[l] += in[i].perExpert()[lo + l];
                }
            }

            // Send side: the row each of this rank's tokens took on every rank.
            int[] sendRow = new int[tokens * ranks];
            Arrays.fill(sendRow, -1);
            for (int j = 0; j < ranks; j++) {
                int base = 0;
                for (int i = 0; i < rank; i++) {
                    base += in[i].tokensTo()[j].length;
                }
                int[] toks = tokensTo[j];
                for (int n = 0; n < toks.length; n++) {
                    sendRow[toks[n] * ranks + j] = base + n;
                }
            }
            HandleState state = new HandleState(call, numExperts, sendRow, sourceToken, offsets, recvPerExpert,
                    numWorst > 0);
            Dispatched result = finishDispatch(out, state, tokens, rows, inRank, a.expertAlignment());
            done = true;
            return result;
        } finally {
            settleDispatch(posts, mine, out, done);
        }
    }

    private Dispatched cachedDispatch(DispatchArgs a, HandleState st, DispatchHandle cached, Tensor x, Tensor scales,
            long xRowBytes, long scaleRowBytes, String signature) {
        int tokens = (int) x.dim(0);
        int hidden = spec.hidden();
        int rows = (int) cached.numRows();
        byte[] inRank = cached.isTokenInRank().toByteArray();
        long call = ++seq;
        Exchange.Post mine = new Exchange.Post(rank, call, signature, new DispatchPost(x.segment(), xRowBytes,
                scales == null ? null : scales.segment(), scaleRowBytes, null, null, null, 0, null, 0), ranks);
        ex.post(mine);
        Exchange.Post[] posts = ex.awaitPosts(this, "dispatch", call, signature);
        Tensor[] out = new Tensor[9];
        boolean done = false;
        try {
            Tensor recvX = out[0] = pool.tensor(x.dtype(), rows, hidden);
            Tensor recvScales = out[1] = scales == null ? null : pool.tensor(scales.dtype(), rows, scales.dim(1));
            int[] off = st.offsets();
            for (int i = 0; i < ranks; i++) {
                DispatchPost p = (DispatchPost) posts[i].payload;
                Routing.copyRows(p.x(), xRowBytes, st.sourceToken(), off[i], off[i + 1], recvX.segment(), off[i]);
                if (recvScales != null) {
                    Routing.copyRows(p.scales(), scaleRowBytes, st.sourceToken(), off[i], off[i + 1],
                            recvScales.segment(), off[i]);
                }
                ex.markRead(posts[i], rank);
            }
            fillTail(recvX, off[ranks], xRowBytes);
            if (recvScales != null) {
                fillTail(recvScales, off[ranks], scaleRowBytes);
            }
            Dispatched result = finishDispatch(out, st, tokens, rows, inRank, a.expertAlignment());
            done = true;
            return result;
        } finally {
            settleDispatch(posts, mine, out, done);
        }
    }

    /**
     * Ends a dispatch either way: tells the senders their rows were read, then either waits
     * until every receiver has read ours (success) or frees the outputs made so far (failure).
     */
    private void settleDispatch(Exchange.Post[] posts, Exchange.Post mine, Tensor[] out, boolean done) {
        for (int i = 0; i < ranks; i++) {
            ex.markRead(posts[i], rank);
        }
        if (!done) {
            for (Tensor t : out) {
                if (t != null) {
                    t.close();
                }
            }
        } else {
            ex.awaitReads(this, "dispatch", mine);
        }
    }

    /** Makes the counts and the handle (tensors out[4..8]) and the result. */
    private Dispatched finishDispatch(Tensor[] out, HandleState st, int tokens, int rows, byte[] inRank, int alignment) {
        int local = st.recvPerExpert().length;
        int[] aligned = new int[local];
        for (int l = 0; l < local; l++) {
            aligned[l] = Routing.alignUp(st.recvPerExpert()[l], alignment);
        }
        Tensor perExpert = out[4] = pool.tensor(DType.INT32, local);
        Routing.writeInts(aligned, perExpert);
        Tensor inRankT = out[5] = pool.tensor(DType.UINT8, tokens, ranks);
        MemorySegment.copy(inRank, 0, inRankT.segment(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, inRank.length);
        Tensor sendRowT = out[6] = pool.tensor(DType.INT32, tokens, ranks);
        Routing.writeInts(st.sendRow(), sendRowT);
        Tensor sourceT = out[7] = pool.tensor(DType.INT32, rows);
        Routing.writeInts(st.sourceToken(), sourceT);
        Tensor offT = out[8] = pool.tensor(DType.INT32, ranks + 1);
        Routing.writeInts(st.offsets(), offT);
        DispatchHandle handle = Results.handle(this, tokens, rows, inRankT, sendRowT, sourceT, offT, st);
        Dispatched d = Results.dispatched(out[0], out[1], out[2], out[3], perExpert, st.worstSized() ? null : aligned,
                handle, EpEvent.completed());
        track(d);
        return d;
    }

    private static void fillTail(Tensor t, long fromRow, long rowBytes) {
        long from = fromRow * rowBytes;
        if (from < t.byteSize()) {
            t.segment().asSlice(from).fill((byte) 0);
        }
    }

    private byte[] readLayoutIsTokenInRank(DispatchLayout layout, int tokens) {
        Tensor t = layout.isTokenInRank();
        ep4j.check.Checks.dtype("layout.isTokenInRank", t, DType.UINT8);
        ep4j.check.Checks.shape("layout.isTokenInRank", t, tokens, ranks);
        return t.toByteArray();
    }

    private static int[] readLayoutCounts(String name, Tensor t, int n) {
        ep4j.check.Checks.dtype(name, t, DType.INT32);
        ep4j.check.Checks.shape(name, t, n);
        ep4j.check.Checks.device(name, t, Tensor.HOST);
        return Routing.readInts(t);
    }

    /** The layout given with topk must be the layout of that topk. */
    private void checkLayoutMatches(DispatchLayout layout, int[] idx, int tokens, int topk, int numExperts,
            byte[] inRank, int[] perExpert) {
        Routing.Layout want = Routing.layout(idx, tokens, topk, ranks, numExperts);
        for (int i = 0; i < inRank.length; i++) {
            if ((inRank[i] != 0) != (want.isTokenInRank()[i] != 0)) {
                throw new InvalidArgumentException("layout.isTokenInRank[" + (i / ranks) + "][" + (i % ranks) + "]",
                        inRank[i], want.isTokenInRank()[i] + ", as computed from topkIdx (use layout(topkIdx, "
                                + numExperts + ") of the same topkIdx)");
            }
        }
        for (int e = 0; e < numExperts; e++) {
            if (perExpert[e] != want.tokensPerExpert()[e]) {
                throw new InvalidArgumentException("layout.tokensPerExpert[" + e + "]", perExpert[e],
                        want.tokensPerExpert()[e] + ", as computed from topkIdx (use layout(topkIdx, " + numExperts
                                + ") of the same topkIdx)");
            }
        }
        int[] perRank = readLayoutCounts("layout.tokensPerRank", layout.tokensPerRank(), ranks);
        for (int j = 0; j < ranks; j++) {
            if (perRank[j] != want.tokensPerRank()[j]) {
                throw new InvalidArgumentException("layout.tokensPerRank[" + j + "]", perRank[j],
                        want.tokensPerRank()[j] + ", as computed from topkIdx (use layout(topkIdx, " + numExperts
                                + ") of the same topkIdx)");
            }
        }
    }

    // ------------------------------------------------------------------------------------ normal combine

    private record CombinePost(MemorySegment x, MemorySegment weights) {
    }

    @Override
    public synchronized Combined combine(CombineArgs a) {
        checkOpen();
        required("args", a);
        awaitPrevious(a.previous());
        validator.combine(a);
        DispatchHandle h = a.handle();
        HandleState st = Results.backendState(h, this, HandleState.class);
        int hidden = spec.hidden();
        int tokens = h.numTokens();
        Tensor w = a.topkWeights();
        int topk = w == null ? 0 : (int) w.dim(1);
        String signature = "combine(routing of call #" + st.routingId() + ", topkWeights="
                + (w == null ? "none" : "[*, " + topk + "]") + ")";
        long call = ++seq;
        Exchange.Post mine = new Exchange.Post(rank, call, signature,
                new CombinePost(a.x().segment(), w == null ? null : w.segment()), ranks);
        ex.post(mine);
        Exchange.Post[] posts = ex.awaitPosts(this, "combine", call, signature);
        Tensor outX = null;
        Tensor outW = null;
        boolean done = false;
        try {
            MemorySegment[] xs = new MemorySegment[ranks];
            MemorySegment[] ws = new MemorySegment[ranks];
            for (int j = 0; j < ranks; j++) {
                CombinePost p = (CombinePost) posts[j].payload;
                xs[j] = p.x();
                ws[j] = p.weights();
            }
            outX = pool.tensor(DType.BF16, tokens, hidden);
            outW = w == null ? null : pool.tensor(DType.FLOAT32, tokens, topk);
            MemorySegment b0 = a.bias0() == null ? null : a.bias0().segment();
            MemorySegment b1 = a.bias1() == null ? null : a.bias1().segment();
            MemorySegment o = outX.segment();
            long rowBytes = 2L * hidden;
            int[] sendRow = st.sendRow();
            float[] acc = new float[hidden];
            short[] tmp = new short[hidden];
            float[] wsum = new float[Math.max(topk, 1)];
            for (int t = 0; t < tokens; t++) {
                Arrays.fill(acc, 0f);
                if (b0 != null) {
                    Kernels.addRow(b0, t * rowBytes, tmp, acc, hidden);
                }
                if (b1 != null) {
                    Kernels.addRow(b1, t * rowBytes, tmp, acc, hidden);
                }
                for (int j = 0; j < ranks; j++) {
                    int r = sendRow[t * ranks + j];
                    if (r >= 0) {
                        Kernels.addRow(xs[j], r * rowBytes, tmp, acc, hidden);
                    }
                }
                Kernels.storeRow(acc, tmp, o, t * rowBytes, hidden);
                if (outW != null) {
                    Arrays.fill(wsum, 0f);
                    for (int j = 0; j < ranks; j++) {
                        int r = sendRow[t * ranks + j];
                        if (r >= 0) {
                            for (int k = 0; k < topk; k++) {
                                wsum[k] += ws[j].get(Routing.FLOAT, ((long) r * topk + k) * 4);
                            }
                        }
                    }
                    MemorySegment.copy(wsum, 0, outW.segment(), Routing.FLOAT, (long) t * topk * 4, topk);
                }
            }
            Combined c = Results.combined(outX, outW, EpEvent.completed());
            track(c);
            done = true;
            return c;
        } finally {
            for (int i = 0; i < ranks; i++) {
                ex.markRead(posts[i], rank);
            }
            if (!done) {
                if (outX != null) {
                    outX.close();
                }
                if (outW != null) {
                    outW.close();
                }
            } else {
                ex.awaitReads(this, "combine", mine);
            }
        }
    }

    // ------------------------------------------------------------------------------------ low latency

    /** The two slots' memory, allocated at the first low-latency call. */
    private final class LowLatencyMemory implements AutoCloseable {
        final Arena arena = Arena.ofShared();
        final int local;
        final int capacity;
        final int hidden;
        final long scaleBytesPerRow;
        final MemorySegment[] recvX = new MemorySegment[2];
        final MemorySegment[] recvScales = new MemorySegment[2];
        final MemorySegment[] recvCount = new MemorySegment[2];
        final MemorySegment[] sourceToken = new MemorySegment[2];
        final MemorySegment[] ranges = new MemorySegment[2];
        final MemorySegment[] sendX = new MemorySegment[2];
        final MemorySegment[] sendScales = new MemorySegment[2];
        final MemorySegment[] combineIn = new MemorySegment[2];

        LowLatencyMemory() {
            int n = spec.lowLatencyMaxTokensPerRank();
            local = spec.lowLatencyExperts() / ranks;
            capacity = ranks * n;
            hidden = spec.hidden();
            scaleBytesPerRow = hidden % 128 == 0 ? 4L * (hidden / 128) : 0;
            long rows = (long) local * capacity;
            try {
                for (int s = 0; s < 2; s++) {
                    recvX[s] = alloc(rows * hidden * 2);
                    recvScales[s] = alloc(rows * scaleBytesPerRow);
                    recvCount[s] = alloc(4L * local);
                    sourceToken[s] = alloc(4L * rows);
                    ranges[s] = alloc(8L * local * ranks);
                    sendX[s] = alloc((long) n * hidden * 2);
                    sendScales[s] = alloc(n * scaleBytesPerRow);
                }
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
        }

        private MemorySegment alloc(long bytes) {
            return HostMemory.allocate(arena, bytes, "the low-latency buffers of rank " + rank);
        }

        MemorySegment combineIn(int s) {
            if (combineIn[s] == null) {
                combineIn[s] = alloc((long) local * capacity * hidden * 2);
            }
            return combineIn[s];
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    private LowLatencyMemory ll() {
        if (ll == null) {
            ll = new LowLatencyMemory();
        }
        return ll;
    }

    /** One of the two low-latency dispatch slots: the call that holds it now. */
    private static final class LlSlot {
        long gen = -1;
        long seq;
        String signature;
        Fp8Mode mode;
        boolean fp8;
        volatile boolean received;
        int tokens;
        int topk;
        int[] idx;
        int[] recvCount;
        /** For each of this rank's (t, k): the row of (t, expert) in that expert's block on its rank, or -1. */
        int[] combineRow;
    }

    private record LlDispatchPost(MemorySegment x, long xRowBytes, MemorySegment scales, long scaleRowBytes,
            int[][] tokensOfExpert) {
    }

    private record LlCombinePost(MemorySegment y) {
    }

    /** Highest generation g such that every generation up to g is received or stale here. */
    private long llWatermark() {
        long g = llGen;
        long w = Math.max(g - 2, -2);
        for (long x = g - 1; x <= g; x++) {
            if (x < 0) {
                w = Math.max(w, x);
                continue;
            }
            LlSlot s = slots[(int) (x & 1)];
            if (s.gen == x && s.received) {
                w = x;
            } else {
                break;
            }
        }
        return w;
    }

    @Override
    public synchronized LowLatencyDispatched lowLatencyDispatch(LowLatencyDispatchArgs a) {
        checkOpen();
        required("args", a);
        int local = validator.lowLatencyDispatch(a);
        int numExperts = a.numExperts();
        Tensor x = a.x();
        int tokens = (int) x.dim(0);
        int topk = (int) a.topkIdx().dim(1);
        int hidden = spec.hidden();
        int[] idx = Routing.readTopk("topkIdx", a.topkIdx(), numExperts);
        Fp8Mode mode = a.useFp8() ? Fp8Mode.of(a.roundScale(), a.useUe8m0()) : null;
        LowLatencyMemory m = ll();

        // Start generation g: it takes slot g % 2, which makes generation g - 2 stale here; the send
        // half of that slot is rewritten once every peer has received (or dropped) g - 2.
        long g = llGen + 1;
        int s = (int) (g & 1);
        llGen = g;
        ex.settleLowLatencyDispatch(rank, llWatermark());
        if (g >= 2) {
            ex.awaitLowLatencyDispatchSettled(this, "lowLatencyDispatch", g - 2);
        }
        long xRowBytes = mode == null ? 2L * hidden : hidden;
        long scaleRowBytes = mode == null ? 0 : mode.scaleBytesPerRow(hidden);
        if (mode == null) {
            MemorySegment.copy(x.segment(), 0, m.sendX[s], 0, (long) tokens * xRowBytes);
        } else {
            Fp8Quantizer.quantize(x.segment(), tokens, hidden, mode, m.sendX[s].asSlice(0, (long) tokens * hidden),
                    m.sendScales[s].asSlice(0, tokens * scaleRowBytes));
        }
        int[][] tokensOfExpert = Routing.tokensOfExpert(idx, tokens, topk, numExperts);

        LlSlot slot = slots[s];
        slot.gen = g;
        slot.received = false;
        slot.mode = mode;
        slot.fp8 = mode != null;
        slot.tokens = tokens;
        slot.topk = topk;
        slot.idx = idx;
        slot.recvCount = null;
        slot.combineRow = null;
        slot.signature = "lowLatencyDispatch(" + (mode == null ? "bf16" : "fp8 " + mode) + ")";
        slot.seq = ++seq;
        ex.post(new Exchange.Post(rank, slot.seq, slot.signature,
                new LlDispatchPost(m.sendX[s], xRowBytes, m.sendScales[s], scaleRowBytes, tokensOfExpert), ranks));

        long rows = (long) local * m.capacity;
        Tensor outX = Tensor.ofHost(m.recvX[s].asSlice(0, rows * xRowBytes), mode == null ? DType.BF16 : DType.FP8_E4M3,
                local, m.capacity, hidden);
        Tensor outScales = null;
        if (mode != null) {
            long perRow = mode.scaleElementsPerRow(hidden);
            outScales = Tensor.ofHost(m.recvScales[s].asSlice(0, rows * perRow * 4),
                    mode.packedExponents() ? DType.INT32 : DType.FLOAT32, local, m.capacity, perRow);
        }
        Tensor recvCount = Tensor.ofHost(m.recvCount[s], DType.INT32, local);
        Tensor sourceToken = Tensor.ofHost(m.sourceToken[s], DType.INT32, local, m.capacity);
        Tensor ranges = Tensor.ofHost(m.ranges[s], DType.INT32, local, ranks, 2);
        LowLatencyHandle handle = Results.lowLatencyHandle(this, s, g, numExperts, tokens, sourceToken, ranges,
                () -> !closed && llGen - g < 2);
        RecvHook hook = () -> {
            receiveDispatch(g);
            return EpEvent.completed();
        };
        LowLatencyDispatched d = Results.lowLatencyDispatched(outX, outScales, recvCount, handle,
                a.returnRecvHook() ? hook : null, () -> slot.received && slot.gen == g, EpEvent.completed());
        if (!a.returnRecvHook()) {
            receiveDispatch(g);
        }
        return d;
    }

    /** The receive half of low-latency dispatch generation {@code g}. */
    private synchronized void receiveDispatch(long g) {
        LlSlot slot = slots[(int) (g & 1)];
        if (slot.gen == g && slot.received) {
            return;
        }
        checkOpen();
        if (slot.gen != g || llGen - g >= 2) {
            throw new IllegalStateException("low-latency dispatch #" + g + " on rank " + rank
                    + " is stale: its buffer was reused by a later call before it was received");
        }
        LowLatencyMemory m = ll;
        Exchange.Post[] posts = ex.awaitPosts(this, "lowLatencyDispatch", slot.seq, slot.signature);
        int s = (int) (g & 1);
        int local = m.local;
        int hidden = m.hidden;
        long xRowBytes = slot.fp8 ? hidden : 2L * hidden;
        long scaleRowBytes = slot.fp8 ? slot.mode.scaleBytesPerRow(hidden) : 0;
        int[] srcToken = new int[local * m.capacity];
        Arrays.fill(srcToken, -1);
        int[] ranges = new int[local * ranks * 2];
        int[] counts = new int[local];
        for (int le = 0; le < local; le++) {
            int e = rank * local + le;
            int cursor = 0;
            long block = (long) le * m.capacity;
            for (int i = 0; i < ranks; i++) {
                LlDispatchPost p = (LlDispatchPost) posts[i].payload;
                int[] toks = p.tokensOfExpert()[e];
                Routing.copyRows(p.x(), xRowBytes, toks, 0, toks.length, m.recvX[s], block + cursor);
                if (scaleRowBytes > 0) {
                    Routing.copyRows(p.scales(), scaleRowBytes, toks, 0, toks.length, m.recvScales[s], block + cursor);
                }
                System.arraycopy(toks, 0, srcToken, (int) block + cursor, toks.length);
                ranges[(le * ranks + i) * 2] = cursor;
                ranges[(le * ranks + i) * 2 + 1] = toks.length;
                cursor += toks.length;
            }
            counts[le] = cursor;
        }
        MemorySegment.copy(srcToken, 0, m.sourceToken[s], Routing.INT, 0, srcToken.length);
        MemorySegment.copy(ranges, 0, m.ranges[s], Routing.INT, 0, ranges.length);
        MemorySegment.copy(counts, 0, m.recvCount[s], Routing.INT, 0, counts.length);

        // Where each of this rank's (token, expert) pairs landed, for combine.
        int[] combineRow = new int[slot.tokens * slot.topk];
        for (int t = 0; t < slot.tokens; t++) {
            for (int k = 0; k < slot.topk; k++) {
                int e = slot.idx[t * slot.topk + k];
                if (e < 0) {
                    combineRow[t * slot.topk + k] = -1;
                    continue;
                }
                int base = 0;
                for (int i = 0; i < rank; i++) {
                    base += ((LlDispatchPost) posts[i].payload).tokensOfExpert()[e].length;
                }
                int pos = Arrays.binarySearch(((LlDispatchPost) posts[rank].payload).tokensOfExpert()[e], t);
                combineRow[t * slot.topk + k] = base + pos;
            }
        }
        slot.combineRow = combineRow;
        slot.recvCount = counts;
        slot.received = true;
        ex.settleLowLatencyDispatch(rank, llWatermark());
    }

    @Override
    public synchronized Tensor lowLatencyCombineInput(LowLatencyHandle handle) {
        checkOpen();
        checkLowLatencyHandle(handle);
        LowLatencyMemory m = ll();
        return Tensor.ofHost(m.combineIn(handle.slot()), DType.BF16, m.local, m.capacity, m.hidden);
    }

    private void checkLowLatencyHandle(LowLatencyHandle handle) {
        if (!spec.hasLowLatency()) {
            throw new InvalidArgumentException("BufferSpec.lowLatency", "not set",
                    "a buffer made with BufferSpec...lowLatency(maxTokensPerRank, numExperts)");
        }
        if (handle == null || !handle.belongsTo(this)) {
            throw new InvalidArgumentException("handle", handle == null ? null : "a handle of another buffer",
                    "a LowLatencyHandle made by this buffer");
        }
        if (!handle.isValid()) {
            throw new InvalidArgumentException("handle", "stale (generation " + handle.generation() + ")",
                    "a handle of one of the last two low-latency dispatches");
        }
    }

    /** One low-latency combine of this rank. */
    private static final class LlCombine {
        final long seq;
        final int slot;
        final String signature;
        final Tensor out;
        final int[] idx;
        final float[] weights;
        final int topk;
        final int tokens;
        final int[] combineRow;
        volatile boolean received;
        boolean dropped;

        LlCombine(long seq, int slot, String signature, Tensor out, int[] idx, float[] weights, int topk, int tokens,
                int[] combineRow) {
            this.seq = seq;
            this.slot = slot;
            this.signature = signature;
            this.out = out;
            this.idx = idx;
            this.weights = weights;
            this.topk = topk;
            this.tokens = tokens;
            this.combineRow = combineRow;
        }
    }

    @Override
    public synchronized LowLatencyCombined lowLatencyCombine(LowLatencyCombineArgs a) {
        checkOpen();
        required("args", a);
        validator.lowLatencyCombine(a);
        LowLatencyHandle h = a.handle();
        int s = h.slot();
        LlSlot slot = slots[s];
        if (slot.gen != h.generation()) {
            throw new InvalidArgumentException("handle", "stale (generation " + h.generation() + ")",
                    "a handle of one of the last two low-latency dispatches");
        }
        if (!slot.received) {
            throw new IllegalStateException("low-latency combine on rank " + rank + ": the dispatch of its handle (#"
                    + h.generation() + ") was not received yet; call its hook().receive() first");
        }
        int numExperts = h.numExperts();
        int[] idx = Routing.readTopk("topkIdx", a.topkIdx(), numExperts);
        int topk = (int) a.topkIdx().dim(1);
        if (topk != slot.topk) {
            throw new InvalidArgumentException("topkIdx.shape[1]", topk,
                    slot.topk + " (the topk of the low-latency dispatch of this handle)");
        }
        for (int i = 0; i < idx.length; i++) {
            if (idx[i] != slot.idx[i]) {
                throw new InvalidArgumentException("topkIdx[" + (i / topk) + "][" + (i % topk) + "]", idx[i],
                        slot.idx[i] + ", as in the low-latency dispatch of this handle");
            }
        }
        LowLatencyMemory m = ll();
        MemorySegment in = m.combineIn(s);
        Tensor y = a.y();
        boolean inPlace = y.segment().address() == in.address();
        if (a.zeroCopy() && !inPlace) {
            throw new InvalidArgumentException("y", y + " at 0x" + Long.toHexString(y.segment().address()),
                    "the tensor lowLatencyCombineInput(handle) returned (zeroCopy)");
        }
        Tensor out = a.out();
        float[] weights = Routing.readFloats(a.topkWeights());

        // A later combine on this slot drops an earlier one not received here, and waits until every
        // peer has received (or dropped) this rank's earlier one before rewriting the slot.
        LlCombine prev = lastCombine[s];
        if (prev != null) {
            if (!prev.received) {
                prev.dropped = true;
            }
            ex.settleLowLatencyCombine(rank, s, prev.seq);
            ex.awaitLowLatencyCombineSettled(this, "lowLatencyCombine", s, prev.seq);
        }
        if (!inPlace) {
            long rowBytes = 2L * m.hidden;
            for (int le = 0; le < m.local; le++) {
                long off = (long) le * m.capacity * rowBytes;
                MemorySegment.copy(y.segment(), off, in, off, slot.recvCount[le] * rowBytes);
            }
        }
        long call = ++seq;
        String signature = "lowLatencyCombine(dispatch call #" + slot.seq + ")";
        ex.post(new Exchange.Post(rank, call, signature, new LlCombinePost(in), ranks));
        boolean owns = out == null;
        if (owns) {
            out = pool.tensor(DType.BF16, h.numTokens(), m.hidden);
        }
        LlCombine st = new LlCombine(call, s, signature, out, idx, weights, topk, h.numTokens(), slot.combineRow);
        lastCombine[s] = st;
        RecvHook hook = () -> {
            receiveCombine(st);
            return EpEvent.completed();
        };
        LowLatencyCombined c = Results.lowLatencyCombined(out, owns, a.returnRecvHook() ? hook : null,
                () -> st.received, EpEvent.completed());
        track(c);
        if (!a.returnRecvHook()) {
            receiveCombine(st);
        }
        return c;
    }

    /** The receive half of a low-latency combine: the weighted sum of the expert rows of every token. */
    private synchronized void receiveCombine(LlCombine st) {
        if (st.received) {
            return;
        }
        checkOpen();
        if (st.dropped) {
            throw new IllegalStateException("low-latency combine call #" + st.seq + " on rank " + rank
                    + " is stale: a later low-latency combine reused its buffer before it was received");
        }
        Exchange.Post[] posts = ex.awaitPosts(this, "lowLatencyCombine", st.seq, st.signature);
        LowLatencyMemory m = ll;
        int hidden = m.hidden;
        MemorySegment[] ys = new MemorySegment[ranks];
        for (int j = 0; j < ranks; j++) {
            ys[j] = ((LlCombinePost) posts[j].payload).y();
        }
        long rowBytes = 2L * hidden;
        float[] acc = new float[hidden];
        short[] tmp = new short[hidden];
        MemorySegment o = st.out.segment();
        int local = m.local;
        for (int t = 0; t < st.tokens; t++) {
            Arrays.fill(acc, 0f);
            for (int k = 0; k < st.topk; k++) {
                int e = st.idx[t * st.topk + k];
                if (e < 0) {
                    continue;
                }
                int j = e / local;
                long row = (long) (e % local) * m.capacity + st.combineRow[t * st.topk + k];
                Kernels.fmaRow(ys[j], row * rowBytes, st.weights[t * st.topk + k], tmp, acc, hidden);
            }
            Kernels.storeRow(acc, tmp, o, t * rowBytes, hidden);
        }
        st.received = true;
        ex.settleLowLatencyCombine(rank, st.slot, st.seq);
    }

    // ------------------------------------------------------------------------------------ close

    @Override
    public void close() {
        synchronized (closeLock) {
            if (closed) {
                return;
            }
            closed = true;
        }
        ex.markClosed(rank);
        try {
            closeResources();
        } finally {
            onClose.run();
        }
    }

    /** Frees every result still owned and the buffer's memory; the first failure is thrown, the others suppressed. */
    private synchronized void closeResources() {
        RuntimeException first = null;
        List<AutoCloseable> owned;
        synchronized (results) {
            owned = new ArrayList<>(results);
            results.clear();
        }
        for (AutoCloseable r : owned) {
            try {
                r.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException re ? re : new ep4j.EpException("close failed", e);
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        pool.close();
        if (ll != null) {
            ll.close();
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "CpuBuffer[rank " + rank + " of " + ranks + ", " + spec + (closed ? ", closed" : "") + "]";
    }

}
