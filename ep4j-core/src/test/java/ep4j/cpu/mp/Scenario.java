package ep4j.cpu.mp;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.codec.Fp8Mode;
import ep4j.codec.Fp8Quantizer;
import ep4j.oracle.Cases;
import ep4j.oracle.Oracle;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.SplittableRandom;

/**
 * One rank's part of a fixed sequence of collective calls covering both paths: normal dispatch
 * bf16 (with top-k, weights, alignment) and its combine with weights and a bias; a cached
 * dispatch along that routing; a larger fp8 dispatch (int32 top-k; the send region grows) and
 * its combine; a worst-sized dispatch and its combine; low-latency dispatch and combine in bf16,
 * fp8 with hooks, and fp8 with round scales and UE8M0 into a zero-copy combine. Inputs come from
 * oracle {@link Cases} (reproducible from their seeds), so any process computes the same ones.
 * Every output is recorded ({@link Outputs}); low-latency rows past a local expert's count are
 * undefined and left out.
 */
final class Scenario {
    static final int RANKS = 3;
    static final int HIDDEN = 256;
    static final int EXPERTS = 12;
    static final int LL_TOKENS = 8;

    private static final Cases.Case SMALL = Cases.options().ranks(RANKS).experts(EXPERTS).hidden(HIDDEN).topk(3)
            .tokens(5, 0, 3).minusOne(0.2).seed(501).generate();
    private static final Cases.Case BIG = Cases.options().ranks(RANKS).experts(EXPERTS).hidden(HIDDEN).topk(4)
            .tokens(12, 9, 16).minusOne(0.1).duplicates(0.2).seed(502).generate();
    private static final Cases.Case LL = Cases.options().ranks(RANKS).experts(EXPERTS).hidden(HIDDEN).topk(4)
            .tokens(LL_TOKENS, 3, 6).minusOne(0.1).seed(503).generate();

    private Scenario() {
    }

    /** The buffer every rank allocates. */
    static BufferSpec spec(Duration timeout) {
        return BufferSpec.normal(HIDDEN, 16).lowLatency(LL_TOKENS, EXPERTS).timeout(timeout);
    }

    static Outputs run(int r, EpBuffer buf) {
        Outputs out = new Outputs();
        normal(r, buf, out);
        lowLatency(r, buf, out);
        return out;
    }

    private static void normal(int r, EpBuffer buf, Outputs out) {
        Tensor idx = SMALL.topkIdx(r);
        try (DispatchLayout layout = buf.layout(idx, EXPERTS)) {
            out.add("layout.tokensPerRank", layout.tokensPerRank());
            out.add("layout.tokensPerExpert", layout.tokensPerExpert());
            out.add("layout.isTokenInRank", layout.isTokenInRank());
            Dispatched d = buf.dispatch(DispatchArgs.of(SMALL.x(r)).topk(idx, SMALL.topkWeights(r)).layout(layout)
                    .expertAlignment(2));
            record("bf16", d, out);
            try (Tensor y = bf16(d.numRows() * HIDDEN, 10 + r, d.numRows(), HIDDEN);
                    Tensor bias = bf16((long) SMALL.tokens[r] * HIDDEN, 20 + r, SMALL.tokens[r], HIDDEN);
                    Combined c = buf.combine(CombineArgs.of(y, d.handle()).topkWeights(d.topkWeights()).bias(bias))) {
                out.add("bf16.combined.x", c.x());
                out.add("bf16.combined.topkWeights", c.topkWeights());
            }
            try (Tensor x2 = bf16((long) SMALL.tokens[r] * HIDDEN, 30 + r, SMALL.tokens[r], HIDDEN);
                    Dispatched cached = buf.dispatch(DispatchArgs.of(x2).cached(d.handle()))) {
                out.add("cached.x", cached.x());
                out.add("cached.tokensPerExpert", cached.tokensPerExpert());
            }
            d.close();
        }
        Fp8Mode mode = Fp8Mode.DEFAULT;
        int t = BIG.tokens[r];
        Tensor q = Tensor.allocateHost(DType.FP8_E4M3, t, HIDDEN);
        Tensor s = Tensor.allocateHost(DType.FLOAT32, t, HIDDEN / 128);
        Fp8Quantizer.quantize(BIG.x(r).segment(), t, HIDDEN, mode, q.segment(), s.segment());
        Tensor bigIdx = BIG.topkIdxInt32(r);
        try (DispatchLayout layout = buf.layout(bigIdx, EXPERTS);
                Dispatched d = buf.dispatch(DispatchArgs.fp8(q, s).topk(bigIdx, BIG.topkWeights(r)).layout(layout))) {
            record("fp8", d, out);
            out.add("fp8.scales", d.scales());
            try (Tensor y = bf16(d.numRows() * HIDDEN, 40 + r, d.numRows(), HIDDEN);
                    Combined c = buf.combine(CombineArgs.of(y, d.handle()))) {
                out.add("fp8.combined.x", c.x());
            }
        }
        int worst = RANKS * 16;
        try (DispatchLayout layout = buf.layout(BIG.topkIdx(r), EXPERTS);
                Dispatched d = buf.dispatch(DispatchArgs.of(BIG.x(r)).topk(BIG.topkIdx(r), BIG.topkWeights(r))
                        .layout(layout).numWorstTokens(worst))) {
            record("worst", d, out);
            try (Tensor y = bf16(d.numRows() * HIDDEN, 50 + r, d.numRows(), HIDDEN);
                    Combined c = buf.combine(CombineArgs.of(y, d.handle()).topkWeights(d.topkWeights()))) {
                out.add("worst.combined.x", c.x());
                out.add("worst.combined.topkWeights", c.topkWeights());
            }
        }
    }

    private static void record(String name, Dispatched d, Outputs out) {
        out.add(name + ".x", d.x());
        out.add(name + ".topkIdx", d.topkIdx());
        out.add(name + ".topkWeights", d.topkWeights());
        out.add(name + ".tokensPerExpert", d.tokensPerExpert());
        out.add(name + ".handle.isTokenInRank", d.handle().isTokenInRank());
        out.add(name + ".handle.sendRow", d.handle().sendRow());
        out.add(name + ".handle.sourceToken", d.handle().sourceToken());
        out.add(name + ".handle.sourceRankOffsets", d.handle().sourceRankOffsets());
    }

    private static void lowLatency(int r, EpBuffer buf, Outputs out) {
        int local = EXPERTS / RANKS;
        int cap = RANKS * LL_TOKENS;
        Tensor idx = LL.topkIdx(r);
        Tensor w = LL.topkWeights(r);
        String[] names = {"ll.bf16", "ll.fp8", "ll.ue8m0"};
        for (int i = 0; i < 3; i++) {
            boolean hook = i == 1;
            LowLatencyDispatchArgs args = LowLatencyDispatchArgs.of(LL.x(r), idx, EXPERTS).returnRecvHook(hook);
            if (i == 1) {
                args.fp8();
            } else if (i == 2) {
                args.fp8(true, true);
            }
            LowLatencyDispatched d = buf.lowLatencyDispatch(args);
            if (hook) {
                d.hook().receive();
            }
            int[] count = ints(d.recvCount());
            int xRow = i == 0 ? 2 * HIDDEN : HIDDEN;
            out.add(names[i] + ".recvCount", count);
            out.add(names[i] + ".x", Oracle.validRows(bytes(d.x()), xRow, cap, count));
            if (d.scales() != null) {
                int scaleRow = (int) (d.scales().dim(2) * 4);
                out.add(names[i] + ".scales", Oracle.validRows(bytes(d.scales()), scaleRow, cap, count));
            }
            out.add(names[i] + ".sourceToken", d.handle().sourceToken());
            out.add(names[i] + ".ranges", d.handle().ranges());
            Tensor y = i == 2 ? buf.lowLatencyCombineInput(d.handle())
                    : Tensor.allocateHost(DType.BF16, local, cap, HIDDEN);
            short[] values = randomBf16((long) local * cap * HIDDEN, 60 + 10L * i + r);
            java.lang.foreign.MemorySegment.copy(values, 0, y.segment(), ValueLayout.JAVA_SHORT_UNALIGNED, 0,
                    values.length);
            LowLatencyCombined c = buf.lowLatencyCombine(LowLatencyCombineArgs.of(y, idx, w, d.handle())
                    .returnRecvHook(hook).zeroCopy(i == 2));
            if (hook) {
                c.hook().receive();
            }
            out.add(names[i] + ".combined", c.x());
            c.close();
        }
    }

    private static byte[] bytes(Tensor t) {
        return t.segment().toArray(ValueLayout.JAVA_BYTE);
    }

    private static int[] ints(Tensor t) {
        return t.segment().toArray(ValueLayout.JAVA_INT);
    }

    /** Random non-zero bf16 values over many binades (so sums round and their order shows). */
    static short[] randomBf16(long n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        short[] v = new short[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            float f = (1 + rnd.nextInt(128) / 128f) * Math.scalb(1f, rnd.nextInt(33) - 16) * (rnd.nextBoolean() ? 1 : -1);
            v[i] = (short) (Float.floatToRawIntBits(f) >>> 16);
        }
        return v;
    }

    private static Tensor bf16(long n, long seed, long... shape) {
        return Tensor.ofBf16Bits(randomBf16(n, seed), shape);
    }
}
