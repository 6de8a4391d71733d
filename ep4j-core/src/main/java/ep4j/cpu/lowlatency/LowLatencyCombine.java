package ep4j.cpu.lowlatency;

import ep4j.DType;
import ep4j.EpEvent;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyHandle;
import ep4j.RecvHook;
import ep4j.Tensor;
import ep4j.cpu.control.RankRuntime;
import ep4j.cpu.kernel.Kernels;
import ep4j.cpu.kernel.Routing;
import ep4j.spi.Results;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Low-latency combine (DESIGN 2.5) on one rank, in two halves: the send half puts the expert
 * outputs into the combine input of the dispatch's slot (shared memory) and posts the call; the
 * receive half (at
 * once, or from the hook) sums, for each token of this rank, {@code w * y} of its experts' rows
 * with fused multiply-adds in slot order, rounded once to bf16. A later combine on the same slot
 * drops an earlier one not received yet (its hook goes stale).
 */
final class LowLatencyCombine {
    private final RankRuntime rt;
    private final Supplier<LowLatencyMemory> memory;
    private final LowLatencyDispatch dispatches;
    private final @Nullable Call[] last = new Call[2];

    /** The call number of this rank's last low-latency combine on {@code slot}, -1 before the first. */
    long lastCall(int slot) {
        Call c = last[slot];
        return c == null ? -1 : c.seq;
    }

    /** One low-latency combine of this rank. */
    private static final class Call {
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

        Call(long seq, int slot, String signature, Tensor out, int[] idx, float[] weights, int topk, int tokens,
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

    LowLatencyCombine(RankRuntime rt, Supplier<LowLatencyMemory> memory, LowLatencyDispatch dispatches) {
        this.rt = rt;
        this.memory = memory;
        this.dispatches = dispatches;
    }

    /** The send half (and the receive half unless a hook was asked for) of a validated call. */
    LowLatencyCombined combine(LowLatencyCombineArgs a) {
        LowLatencyHandle h = a.handle();
        int s = h.slot();
        LowLatencyDispatch.Slot slot = dispatches.slot(s, h.generation());
        if (slot == null) {
            throw new InvalidArgumentException("handle", "stale (generation " + h.generation() + ")",
                    "a handle of one of the last two low-latency dispatches");
        }
        if (!slot.received) {
            throw new IllegalStateException("low-latency combine on rank " + rt.rank + ": the dispatch of its handle (#"
                    + h.generation() + ") was not received yet; call its hook().receive() first");
        }
        int[] idx = Routing.readTopk("topkIdx", a.topkIdx(), h.numExperts());
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
        LowLatencyMemory m = memory.get();
        MemorySegment in = m.combineIn(s);
        Tensor y = a.y();
        boolean inPlace = y.segment().address() == in.address();
        if (a.zeroCopy() && !inPlace) {
            throw new InvalidArgumentException("y", y + " at 0x" + Long.toHexString(y.segment().address()),
                    "the tensor lowLatencyCombineInput(handle) returned (zeroCopy)");
        }
        float[] weights = Routing.readFloats(a.topkWeights());

        // A later combine on this slot drops an earlier one not received here, and waits until every
        // peer has received (or dropped) this rank's earlier one before rewriting the slot.
        Call prev = last[s];
        if (prev != null) {
            if (!prev.received) {
                prev.dropped = true;
            }
            rt.exchange.settleLowLatencyCombine(s, prev.seq);
            rt.exchange.awaitLowLatencyCombineSettled("lowLatencyCombine", s, prev.seq);
        }
        if (!inPlace) {
            long rowBytes = 2L * m.hidden;
            for (int le = 0; le < m.local; le++) {
                long off = (long) le * m.capacity * rowBytes;
                MemorySegment.copy(y.segment(), off, in, off, slot.recvCount[le] * rowBytes);
            }
        }
        String signature = "lowLatencyCombine(dispatch call #" + slot.seq + ")";
        long call = rt.exchange.post("lowLatencyCombine", signature);
        Tensor out = a.out();
        boolean owns = out == null;
        if (owns) {
            out = rt.pool.tensor(DType.BF16, h.numTokens(), m.hidden);
        }
        Call st = new Call(call, s, signature, out, idx, weights, topk, h.numTokens(), slot.combineRow);
        last[s] = st;
        RecvHook hook = () -> {
            synchronized (rt) {
                receive(st);
            }
            return EpEvent.completed();
        };
        LowLatencyCombined c = Results.lowLatencyCombined(out, owns, a.returnRecvHook() ? hook : null,
                () -> st.received, EpEvent.completed());
        rt.track(c);
        if (!a.returnRecvHook()) {
            receive(st);
        }
        return c;
    }

    /** The receive half (under the rank's monitor): the weighted sum of the expert rows of every token. */
    private void receive(Call st) {
        if (st.received) {
            return;
        }
        rt.checkOpen();
        if (st.dropped) {
            throw new IllegalStateException("low-latency combine call #" + st.seq + " on rank " + rt.rank
                    + " is stale: a later low-latency combine reused its buffer before it was received");
        }
        rt.exchange.awaitPosts("lowLatencyCombine", st.seq, st.signature);
        LowLatencyMemory m = memory.get();
        int hidden = m.hidden;
        MemorySegment[] ys = new MemorySegment[rt.ranks];
        for (int j = 0; j < rt.ranks; j++) {
            ys[j] = m.peerCombineIn(j, st.slot);
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
        rt.exchange.settleLowLatencyCombine(st.slot, st.seq);
    }
}
