package ep4j.cpu.lowlatency;

import ep4j.DType;
import ep4j.EpEvent;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.RecvHook;
import ep4j.Tensor;
import ep4j.codec.Fp8Mode;
import ep4j.codec.Fp8Quantizer;
import ep4j.cpu.control.RankRuntime;
import ep4j.cpu.kernel.Routing;
import ep4j.spi.Results;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Low-latency dispatch (DESIGN 2.4) on one rank, in two halves: the send half quantizes this
 * rank's tokens into the call's send slot (shared memory), with the tokens of every expert, and
 * posts the call; the receive half (at once, or from the hook) pulls every peer's rows for this
 * rank's experts from the peers' send slots into its receive slot, expert-major, grouped by source
 * rank, then source token. Generation {@code g} (the rank's g-th low-latency dispatch,
 * from 0) uses slot {@code g % 2}; it goes stale when generation {@code g + 2} starts.
 */
final class LowLatencyDispatch {
    private final RankRuntime rt;
    private final Supplier<LowLatencyMemory> memory;
    private final Slot[] slots = {new Slot(), new Slot()};
    /** The latest generation started here (-1: none). */
    private volatile long generation = -1;

    /** One of the two slots: the call that holds it now. */
    static final class Slot {
        long gen = -1;
        long seq;
        String signature;
        @Nullable Fp8Mode mode;
        volatile boolean received;
        int tokens;
        int topk;
        int[] idx;
        int[] recvCount;
        /** For each of this rank's (t, k): the row of (t, expert) in that expert's block on its rank, or -1. */
        int[] combineRow;
    }

    LowLatencyDispatch(RankRuntime rt, Supplier<LowLatencyMemory> memory) {
        this.rt = rt;
        this.memory = memory;
    }

    /** Generation {@code g}'s slot, when it still holds it. */
    @Nullable Slot slot(int s, long g) {
        Slot slot = slots[s];
        return slot.gen == g ? slot : null;
    }

    /** The send half (and the receive half unless a hook was asked for) of a validated call. */
    LowLatencyDispatched dispatch(LowLatencyDispatchArgs a) {
        int numExperts = a.numExperts();
        Tensor x = a.x();
        int tokens = (int) x.dim(0);
        int topk = (int) a.topkIdx().dim(1);
        int hidden = rt.spec.hidden();
        int ranks = rt.ranks;
        int[] idx = Routing.readTopk("topkIdx", a.topkIdx(), numExperts);
        Fp8Mode mode = a.useFp8() ? Fp8Mode.of(a.roundScale(), a.useUe8m0()) : null;
        LowLatencyMemory m = memory.get();

        // Start generation g: it takes slot g % 2, which makes generation g - 2 stale here; the send
        // half of that slot is rewritten once every peer has received (or dropped) g - 2.
        long g = generation + 1;
        int s = (int) (g & 1);
        generation = g;
        rt.exchange.settleLowLatencyDispatch(watermark());
        if (g >= 2) {
            rt.exchange.awaitLowLatencyDispatchSettled("lowLatencyDispatch", g - 2);
        }
        long xRowBytes = mode == null ? 2L * hidden : hidden;
        long scaleRowBytes = mode == null ? 0 : mode.scaleBytesPerRow(hidden);
        if (mode == null) {
            MemorySegment.copy(x.segment(), 0, m.sendX[s], 0, (long) tokens * xRowBytes);
        } else {
            Fp8Quantizer.quantize(x.segment(), tokens, hidden, mode, m.sendX[s].asSlice(0, (long) tokens * hidden),
                    m.sendScales[s].asSlice(0, tokens * scaleRowBytes));
        }
        ExpertTokens.write(m.expertTokens[s], Routing.tokensOfExpert(idx, tokens, topk, numExperts));

        Slot slot = slots[s];
        slot.gen = g;
        slot.received = false;
        slot.mode = mode;
        slot.tokens = tokens;
        slot.topk = topk;
        slot.idx = idx;
        slot.recvCount = null;
        slot.combineRow = null;
        slot.signature = "lowLatencyDispatch(" + (mode == null ? "bf16" : "fp8 " + mode) + ")";
        slot.seq = rt.exchange.post("lowLatencyDispatch", slot.signature);

        long rows = (long) m.local * m.capacity;
        Tensor outX = Tensor.ofHost(m.recvX[s].asSlice(0, rows * xRowBytes), mode == null ? DType.BF16 : DType.FP8_E4M3,
                m.local, m.capacity, hidden);
        Tensor outScales = null;
        if (mode != null) {
            long perRow = mode.scaleElementsPerRow(hidden);
            outScales = Tensor.ofHost(m.recvScales[s].asSlice(0, rows * perRow * 4),
                    mode.packedExponents() ? DType.INT32 : DType.FLOAT32, m.local, m.capacity, perRow);
        }
        Tensor recvCount = Tensor.ofHost(m.recvCount[s], DType.INT32, m.local);
        Tensor sourceToken = Tensor.ofHost(m.sourceToken[s], DType.INT32, m.local, m.capacity);
        Tensor ranges = Tensor.ofHost(m.ranges[s], DType.INT32, m.local, ranks, 2);
        LowLatencyHandle handle = Results.lowLatencyHandle(rt.owner, s, g, numExperts, tokens, sourceToken, ranges,
                () -> !rt.isClosed() && generation - g < 2);
        RecvHook hook = () -> {
            synchronized (rt) {
                receive(g);
            }
            return EpEvent.completed();
        };
        LowLatencyDispatched d = Results.lowLatencyDispatched(outX, outScales, recvCount, handle,
                a.returnRecvHook() ? hook : null, () -> slot.received && slot.gen == g, EpEvent.completed());
        if (!a.returnRecvHook()) {
            receive(g);
        }
        return d;
    }

    /** The receive half of generation {@code g} (under the rank's monitor). */
    private void receive(long g) {
        Slot slot = slots[(int) (g & 1)];
        if (slot.gen == g && slot.received) {
            return;
        }
        rt.checkOpen();
        if (slot.gen != g || generation - g >= 2) {
            throw new IllegalStateException("low-latency dispatch #" + g + " on rank " + rt.rank
                    + " is stale: its buffer was reused by a later call before it was received");
        }
        LowLatencyMemory m = memory.get();
        rt.exchange.awaitPosts("lowLatencyDispatch", slot.seq, slot.signature);
        int s = (int) (g & 1);
        ExpertTokens[] in = new ExpertTokens[rt.ranks];
        for (int i = 0; i < rt.ranks; i++) {
            in[i] = m.peerExpertTokens(i, s);
        }
        int ranks = rt.ranks;
        int local = m.local;
        int hidden = m.hidden;
        long xRowBytes = slot.mode != null ? hidden : 2L * hidden;
        long scaleRowBytes = slot.mode != null ? slot.mode.scaleBytesPerRow(hidden) : 0;
        int[] srcToken = new int[local * m.capacity];
        Arrays.fill(srcToken, -1);
        int[] ranges = new int[local * ranks * 2];
        int[] counts = new int[local];
        for (int le = 0; le < local; le++) {
            int e = rt.rank * local + le;
            int cursor = 0;
            long block = (long) le * m.capacity;
            for (int i = 0; i < ranks; i++) {
                int[] toks = in[i].tokens(e);
                Routing.copyRows(m.peerSendX(i, s), xRowBytes, toks, 0, toks.length, m.recvX[s], block + cursor);
                if (scaleRowBytes > 0) {
                    Routing.copyRows(m.peerSendScales(i, s), scaleRowBytes, toks, 0, toks.length, m.recvScales[s],
                            block + cursor);
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
        slot.combineRow = combineRows(slot, in);
        slot.recvCount = counts;
        slot.received = true;
        rt.exchange.settleLowLatencyDispatch(watermark());
    }

    /** Where each of this rank's (token, expert) pairs landed in its expert's block, for combine. */
    private int[] combineRows(Slot slot, ExpertTokens[] in) {
        int[] combineRow = new int[slot.tokens * slot.topk];
        int[][] own = new int[rt.spec.lowLatencyExperts()][];
        int[] base = new int[own.length];
        for (int t = 0; t < slot.tokens; t++) {
            for (int k = 0; k < slot.topk; k++) {
                int e = slot.idx[t * slot.topk + k];
                if (e < 0) {
                    combineRow[t * slot.topk + k] = -1;
                    continue;
                }
                if (own[e] == null) {
                    own[e] = in[rt.rank].tokens(e);
                    for (int i = 0; i < rt.rank; i++) {
                        base[e] += in[i].count(e);
                    }
                }
                combineRow[t * slot.topk + k] = base[e] + Arrays.binarySearch(own[e], t);
            }
        }
        return combineRow;
    }

    /** The generation of this rank's last low-latency dispatch, -1 before the first. */
    long lastGeneration() {
        return generation;
    }

    /** Highest generation w such that every generation up to w is received or stale here. */
    private long watermark() {
        long g = generation;
        long w = Math.max(g - 2, -2);
        for (long x = g - 1; x <= g; x++) {
            if (x < 0) {
                w = Math.max(w, x);
                continue;
            }
            Slot s = slots[(int) (x & 1)];
            if (s.gen == x && s.received) {
                w = x;
            } else {
                break;
            }
        }
        return w;
    }
}
