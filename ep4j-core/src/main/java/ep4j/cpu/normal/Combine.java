package ep4j.cpu.normal;

import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchHandle;
import ep4j.EpEvent;
import ep4j.Tensor;
import ep4j.cpu.control.Exchange;
import ep4j.cpu.control.RankRuntime;
import ep4j.cpu.control.Region;
import ep4j.cpu.kernel.Kernels;
import ep4j.cpu.kernel.Routing;
import ep4j.spi.Results;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Normal combine (DESIGN 2.3) on one rank: every rank writes its expert outputs into its normal
 * region ({@link CombineWire}) and posts the call, and each rank pulls the rows of its own tokens
 * from the regions of the ranks that received them, summing in float32 in the fixed order
 * (biases, then ranks ascending) and rounding once to bf16.
 */
final class Combine {
    private final RankRuntime rt;

    Combine(RankRuntime rt) {
        this.rt = rt;
    }

    /** Combines for a validated {@code a} whose handle has the state {@code st}. */
    Combined combine(CombineArgs a, HandleState st) {
        int ranks = rt.ranks;
        DispatchHandle h = a.handle();
        int hidden = rt.spec.hidden();
        int tokens = h.numTokens();
        Tensor w = a.topkWeights();
        int topk = w == null ? 0 : (int) w.dim(1);
        // Read every input before the call is numbered: a tensor that cannot be read (closed, an
        // expired view) then fails this rank's call and leaves its numbering intact.
        MemorySegment x = a.x().segment();
        MemorySegment ws0 = w == null ? null : w.segment();
        MemorySegment b0 = a.bias0() == null ? null : a.bias0().segment();
        MemorySegment b1 = a.bias1() == null ? null : a.bias1().segment();
        String signature = "combine(routing of call #" + st.routingId() + ", topkWeights="
                + (w == null ? "none" : "[*, " + topk + "]") + ")";
        Exchange ex = rt.exchange;
        long rows = h.numRows();
        MemorySegment region = ex.normalRegion("combine", CombineWire.bytes(rows, hidden, topk));
        CombineWire.write(region, x, ws0, rows, hidden, topk);
        long seq = ex.postNormal("combine", signature);
        ex.awaitPosts("combine", seq, signature);
        MemorySegment[] xs = new MemorySegment[ranks];
        MemorySegment[] ws = new MemorySegment[ranks];
        for (int j = 0; j < ranks; j++) {
            CombineWire.Post p = CombineWire.read(ex.region(j, Region.NORMAL));
            xs[j] = p.x();
            ws[j] = p.weights();
        }
        Tensor outX = null;
        Tensor outW = null;
        boolean done = false;
        try {
            outX = rt.pool.tensor(DType.BF16, tokens, hidden);
            outW = w == null ? null : rt.pool.tensor(DType.FLOAT32, tokens, topk);
            reduce(st.sendRow(), xs, ws, b0, b1, outX.segment(), outW == null ? null : outW.segment(), tokens, topk);
            Combined c = Results.combined(outX, outW, EpEvent.completed());
            rt.track(c);
            done = true;
            return c;
        } finally {
            for (int i = 0; i < ranks; i++) {
                ex.markRead(i, seq);
            }
            if (!done) {
                if (outX != null) {
                    outX.close();
                }
                if (outW != null) {
                    outW.close();
                }
            } else {
                ex.awaitReads("combine", seq);
            }
        }
    }

    /** The sums of DESIGN 2.3 for every token of this rank, into {@code o} (and {@code ow}). */
    private void reduce(int[] sendRow, MemorySegment[] xs, MemorySegment[] ws, @Nullable MemorySegment b0,
            @Nullable MemorySegment b1, MemorySegment o, @Nullable MemorySegment ow, int tokens, int topk) {
        int ranks = rt.ranks;
        int hidden = rt.spec.hidden();
        long rowBytes = 2L * hidden;
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
            if (ow != null) {
                Arrays.fill(wsum, 0f);
                for (int j = 0; j < ranks; j++) {
                    int r = sendRow[t * ranks + j];
                    if (r >= 0) {
                        for (int k = 0; k < topk; k++) {
                            wsum[k] += ws[j].get(Routing.FLOAT, ((long) r * topk + k) * 4);
                        }
                    }
                }
                MemorySegment.copy(wsum, 0, ow, Routing.FLOAT, (long) t * topk * 4, topk);
            }
        }
    }
}
