package ep4j.cpu.normal;

import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpEvent;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import ep4j.cpu.control.RankRuntime;
import ep4j.cpu.control.Region;
import ep4j.cpu.kernel.Routing;
import ep4j.spi.Keeper;
import ep4j.spi.Results;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The normal (high-throughput) calls of one CPU rank (DESIGN 2.1-2.3): layout, dispatch (fresh
 * or cached) and combine. Every call was validated by the buffer. A dispatch writes this rank's
 * tokens and routing into its normal region ({@link DispatchWire}) and posts the call; each rank
 * then pulls the rows it receives from the senders' regions (whole rows, bulk copies), ordered by
 * source rank, then source token, and tells the senders it is done reading; a rank returns once
 * every peer has read its tokens.
 *
 * <p>Outputs, as on the GPU: the received rows stay in one of two receive slots that dispatches
 * alternate ({@link ReceiveSlots}); the tokens, scales, top-k, weights and the handle's source
 * tokens are views, readable until the dispatch after next, and {@link Dispatched#keep()} copies
 * them out. Counts, layouts, the rest of the handle and combine outputs own pool memory.
 */
public final class NormalPath implements AutoCloseable {
    private final RankRuntime rt;
    private final Layouts layouts;
    private final Combine combine;
    private final ReceiveSlots slots;
    private final Keeper keeper;

    /**
     * The normal path of a rank.
     *
     * @param rt the rank's runtime
     */
    public NormalPath(RankRuntime rt) {
        this.rt = rt;
        this.layouts = new Layouts(rt);
        this.combine = new Combine(rt);
        this.slots = new ReceiveSlots(rt);
        this.keeper = slots.keeper();
    }

    /**
     * The layout of a validated {@code topkIdx}.
     *
     * @param topkIdx    {@code [T, K]}
     * @param numExperts {@code E}
     * @return the layout, owned by the caller
     */
    public DispatchLayout layout(Tensor topkIdx, int numExperts) {
        DispatchLayout layout = layouts.layout(topkIdx, numExperts);
        rt.track(layout);
        return layout;
    }

    /**
     * A validated dispatch, fresh or cached.
     *
     * @param a the arguments
     * @return what this rank received
     */
    public Dispatched dispatch(DispatchArgs a) {
        DispatchHandle cached = a.cachedHandle();
        return cached != null ? cachedDispatch(a, cached) : freshDispatch(a);
    }

    /**
     * A validated combine.
     *
     * @param a the arguments
     * @return the combined tokens of this rank
     */
    public Combined combine(CombineArgs a) {
        return combine.combine(a, Results.backendState(a.handle(), rt.owner, HandleState.class));
    }

    private Dispatched freshDispatch(DispatchArgs a) {
        int ranks = rt.ranks;
        Tensor x = a.x();
        int tokens = (int) x.dim(0);
        Tensor scales = a.scales();
        DispatchLayout layout = a.layout();
        int numExperts = layout.numExperts();
        byte[] inRank = layouts.isTokenInRank(layout, tokens);
        int[] perExpert = Layouts.counts("layout.tokensPerExpert", layout.tokensPerExpert(), numExperts);
        int[] idx = null;
        int topk = 0;
        if (a.topkIdx() != null) {
            topk = (int) a.topkIdx().dim(1);
            idx = Routing.readTopk("topkIdx", a.topkIdx(), numExperts);
            layouts.checkMatches(layout, idx, tokens, topk, inRank, perExpert);
        }
        float[] weights = a.topkWeights() == null ? null : Routing.readFloats(a.topkWeights());
        int[][] tokensTo = Routing.tokensTo(inRank, tokens, ranks);
        int numWorst = a.numWorstTokens();
        String signature = "dispatch(" + data(x, scales) + ", " + numExperts + " experts, topk="
                + (idx == null ? "none" : topk) + (weights != null ? "+weights" : "") + ")";
        slots.checkNotRefilled("x", x);
        slots.checkNotRefilled("scales", scales);
        slots.checkNotRefilled("topkIdx", a.topkIdx());
        slots.checkNotRefilled("topkWeights", a.topkWeights());
        long seq = send(new DispatchWire.Post(tokens, x.segment(), rowBytes(x),
                scales == null ? null : scales.segment(), rowBytes(scales), tokensTo, idx, weights, topk, perExpert,
                numWorst), signature);
        ReceiveSlots.Slot slot = slots.refill();
        DispatchWire.Post[] in = received(seq, signature);
        List<Tensor> owned = new ArrayList<>(4);
        boolean done = false;
        try {
            int received = receivedRows(in);
            int rows = numWorst > 0 ? numWorst : received;
            int local = numExperts / ranks;
            DType idxType = a.topkIdx() == null ? DType.INT32 : a.topkIdx().dtype();
            MemorySegment[] mem = slot.regions(rows * rowBytes(x), rows * rowBytes(scales), 4L * rows,
                    idx == null ? 0 : (long) rows * topk * idxType.byteSize(), weights == null ? 0 : 4L * rows * topk);
            Tensor recvX = slot.view(mem[0], x.dtype(), rows, x.dim(1));
            Tensor recvScales = scales == null ? null : slot.view(mem[1], scales.dtype(), rows, scales.dim(1));
            Tensor sourceT = slot.view(mem[2], DType.INT32, rows);
            Tensor recvIdx = idx == null ? null : slot.view(mem[3], idxType, rows, topk);
            Tensor recvW = weights == null ? null : slot.view(mem[4], DType.FLOAT32, rows, topk);
            int[] sourceToken = new int[rows];
            int[] offsets = new int[ranks + 1];
            receive(seq, in, recvX, recvScales, recvIdx, recvW, sourceToken, offsets, local, topk);
            Routing.writeInts(sourceToken, sourceT);
            int[] recvPerExpert = new int[local];
            for (int i = 0; i < ranks; i++) {
                for (int l = 0; l < local; l++) {
                    recvPerExpert[l] += in[i].perExpert()[rt.rank * local + l];
                }
            }
            HandleState st = new HandleState(seq, numExperts, sendRows(in, tokensTo, tokens), sourceToken,
                    offsets, recvPerExpert, numWorst > 0);
            int[] aligned = aligned(recvPerExpert, a.expertAlignment());
            Tensor perExpertT = owned(owned, DType.INT32, local);
            Routing.writeInts(aligned, perExpertT);
            Tensor inRankT = owned(owned, DType.UINT8, tokens, ranks);
            MemorySegment.copy(inRank, 0, inRankT.segment(), ValueLayout.JAVA_BYTE, 0, inRank.length);
            Tensor sendRowT = owned(owned, DType.INT32, tokens, ranks);
            Routing.writeInts(st.sendRow(), sendRowT);
            Tensor offsetsT = owned(owned, DType.INT32, ranks + 1);
            Routing.writeInts(offsets, offsetsT);
            DispatchHandle handle = Results.handle(rt.owner, tokens, rows, inRankT, sendRowT, sourceT, offsetsT, st);
            Dispatched d = Results.dispatched(recvX, recvScales, recvIdx, recvW, perExpertT,
                    numWorst > 0 ? null : aligned, handle, EpEvent.completed(), keeper);
            rt.track(d);
            done = true;
            return d;
        } finally {
            settle(seq, owned, done);
        }
    }

    /**
     * Writes this rank's post into its normal region (once every peer is done with the previous
     * one), then numbers and posts the call: a post that cannot be written (an input that cannot
     * be read) fails the call before it is numbered.
     */
    private long send(DispatchWire.Post post, String signature) {
        var region = rt.exchange.normalRegion("dispatch", DispatchWire.bytes(post, rt.ranks));
        DispatchWire.write(region, post, rt.ranks);
        return rt.exchange.postNormal("dispatch", signature);
    }

    /** Waits for every rank's post of call {@code seq} and reads them, in rank order. */
    private DispatchWire.Post[] received(long seq, String signature) {
        rt.exchange.awaitPosts("dispatch", seq, signature);
        DispatchWire.Post[] in = new DispatchWire.Post[rt.ranks];
        for (int i = 0; i < rt.ranks; i++) {
            in[i] = DispatchWire.read(rt.exchange.region(i, Region.NORMAL));
        }
        return in;
    }

    /**
     * The rows every rank receives, computed on every rank from every rank's routing, so that a
     * too small {@code numWorstTokens} fails everywhere alike; returns this rank's count.
     */
    private int receivedRows(DispatchWire.Post[] in) {
        int ranks = rt.ranks;
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
        return received[rt.rank];
    }

    /**
     * Pulls the rows of every source rank in source token order (marking each sender's post read
     * once done with it), with their top-k mapped to local experts; rows past the received count
     * are zeros, with source token and top-k index -1.
     */
    private void receive(long seq, DispatchWire.Post[] in, Tensor recvX, @Nullable Tensor recvScales,
            @Nullable Tensor recvIdx, @Nullable Tensor recvW, int[] sourceToken, int[] offsets, int local, int topk) {
        int rows = sourceToken.length;
        int[] idx = recvIdx == null ? null : new int[rows * topk];
        float[] w = recvW == null ? null : new float[rows * topk];
        int lo = rt.rank * local;
        int row = 0;
        for (int i = 0; i < rt.ranks; i++) {
            offsets[i] = row;
            DispatchWire.Post p = in[i];
            int[] toks = p.tokensTo()[rt.rank];
            Routing.copyRows(p.x(), p.xRowBytes(), toks, 0, toks.length, recvX.segment(), row);
            if (recvScales != null) {
                Routing.copyRows(p.scales(), p.scaleRowBytes(), toks, 0, toks.length, recvScales.segment(), row);
            }
            for (int n = 0; n < toks.length; n++) {
                int t = toks[n];
                sourceToken[row + n] = t;
                if (idx != null) {
                    for (int k = 0; k < topk; k++) {
                        int e = p.idx()[t * topk + k];
                        boolean kept = e >= lo && e < lo + local;
                        idx[(row + n) * topk + k] = kept ? e - lo : -1;
                        if (w != null) {
                            w[(row + n) * topk + k] = kept ? p.weights()[t * topk + k] : 0f;
                        }
                    }
                }
            }
            rt.exchange.markRead(i, seq);
            row += toks.length;
        }
        offsets[rt.ranks] = row;
        fillTail(recvX, row);
        if (recvScales != null) {
            fillTail(recvScales, row);
        }
        Arrays.fill(sourceToken, row, rows, -1);
        if (idx != null) {
            Arrays.fill(idx, row * topk, rows * topk, -1);
            Routing.writeIndices(idx, recvIdx);
        }
        if (w != null) {
            Routing.writeFloats(w, recvW);
        }
    }

    /** The row each of this rank's tokens takes on every rank: {@code [T * R]}, -1 where it does not go. */
    private int[] sendRows(DispatchWire.Post[] in, int[][] tokensTo, int tokens) {
        int ranks = rt.ranks;
        int[] sendRow = new int[tokens * ranks];
        Arrays.fill(sendRow, -1);
        for (int j = 0; j < ranks; j++) {
            int base = 0;
            for (int i = 0; i < rt.rank; i++) {
                base += in[i].tokensTo()[j].length;
            }
            int[] toks = tokensTo[j];
            for (int n = 0; n < toks.length; n++) {
                sendRow[toks[n] * ranks + j] = base + n;
            }
        }
        return sendRow;
    }

    /** A dispatch of new tokens along the routing of an earlier one ({@code numWorstTokens} ignored). */
    private Dispatched cachedDispatch(DispatchArgs a, DispatchHandle cached) {
        HandleState st = Results.backendState(cached, rt.owner, HandleState.class);
        int ranks = rt.ranks;
        Tensor x = a.x();
        Tensor scales = a.scales();
        int rows = (int) cached.numRows();
        String signature = "dispatch(" + data(x, scales) + ", routing of call #" + st.routingId() + ")";
        slots.checkNotRefilled("x", x);
        slots.checkNotRefilled("scales", scales);
        long seq = send(new DispatchWire.Post((int) x.dim(0), x.segment(), rowBytes(x),
                scales == null ? null : scales.segment(), rowBytes(scales), null, null, null, 0, null, 0), signature);
        ReceiveSlots.Slot slot = slots.refill();
        DispatchWire.Post[] in = received(seq, signature);
        List<Tensor> owned = new ArrayList<>(1);
        boolean done = false;
        try {
            MemorySegment[] mem = slot.regions(rows * rowBytes(x), rows * rowBytes(scales));
            Tensor recvX = slot.view(mem[0], x.dtype(), rows, x.dim(1));
            Tensor recvScales = scales == null ? null : slot.view(mem[1], scales.dtype(), rows, scales.dim(1));
            int[] off = st.offsets();
            for (int i = 0; i < ranks; i++) {
                DispatchWire.Post p = in[i];
                Routing.copyRows(p.x(), p.xRowBytes(), st.sourceToken(), off[i], off[i + 1], recvX.segment(), off[i]);
                if (recvScales != null) {
                    Routing.copyRows(p.scales(), p.scaleRowBytes(), st.sourceToken(), off[i], off[i + 1],
                            recvScales.segment(), off[i]);
                }
                rt.exchange.markRead(i, seq);
            }
            fillTail(recvX, off[ranks]);
            if (recvScales != null) {
                fillTail(recvScales, off[ranks]);
            }
            int[] aligned = aligned(st.recvPerExpert(), a.expertAlignment());
            Tensor perExpertT = owned(owned, DType.INT32, aligned.length);
            Routing.writeInts(aligned, perExpertT);
            Dispatched d = Results.cachedDispatched(recvX, recvScales, perExpertT, st.worstSized() ? null : aligned,
                    cached, EpEvent.completed(), keeper);
            rt.track(d);
            done = true;
            return d;
        } finally {
            settle(seq, owned, done);
        }
    }

    /**
     * Ends a dispatch either way: tells the senders their rows were read, then either waits
     * until every receiver has read ours (success) or frees the owned outputs made so far
     * (failure; the views need no freeing).
     */
    private void settle(long seq, List<Tensor> owned, boolean done) {
        for (int i = 0; i < rt.ranks; i++) {
            rt.exchange.markRead(i, seq);
        }
        if (!done) {
            owned.forEach(Tensor::close);
        } else {
            rt.exchange.awaitReads("dispatch", seq);
        }
    }

    /** A tensor of the rank's pool, added to {@code owned} (freed if the dispatch fails). */
    private Tensor owned(List<Tensor> owned, DType dtype, long... shape) {
        Tensor t = rt.pool.tensor(dtype, shape);
        owned.add(t);
        return t;
    }

    /** Received tokens per local expert, each rounded up to {@code alignment}. */
    private static int[] aligned(int[] perExpert, int alignment) {
        int[] out = new int[perExpert.length];
        for (int l = 0; l < out.length; l++) {
            out[l] = Routing.alignUp(perExpert[l], alignment);
        }
        return out;
    }

    /** Bytes of one row of a 2-D tensor (also when it has no rows); 0 for none. */
    private static long rowBytes(@Nullable Tensor t) {
        return t == null ? 0 : t.dim(1) * t.dtype().byteSize();
    }

    private static void fillTail(Tensor t, long fromRow) {
        long from = fromRow * rowBytes(t);
        if (from < t.byteSize()) {
            t.segment().asSlice(from).fill((byte) 0);
        }
    }

    private static String data(Tensor x, @Nullable Tensor scales) {
        return scales == null ? "bf16" : "fp8+" + scales.dtype() + "[" + scales.dim(1) + "]";
    }

    @Override
    public void close() {
        slots.close();
    }
}
