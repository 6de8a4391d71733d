package ep4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import ep4j.oracle.Oracle;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Normal dispatch and combine on the CPU backend against the brute-force oracle. */
class NormalDispatchTest {

    /** Routing cases over R in {1, 2, 3, 4, 8, 16}: empty ranks, uneven T, -1 slots, unused experts, skew. */
    static Stream<Cases.Options> routings() {
        return Stream.of(
                Cases.options().ranks(1).experts(4).topk(2).tokens(5).seed(1),
                Cases.options().ranks(1).experts(2).topk(1).tokens(0).seed(2),
                Cases.options().ranks(2).experts(8).topk(2).tokens(7, 0).seed(3),
                Cases.options().ranks(2).experts(4).topk(3).tokens(9, 6).duplicates(0.5).seed(4),
                Cases.options().ranks(3).experts(12).topk(3).tokens(5, 9, 1).minusOne(0.3).seed(5),
                Cases.options().ranks(4).experts(16).topk(4).tokens(6, 0, 11, 3).minusOne(0.2)
                        .allowedExperts(e -> e % 3 != 0).seed(6),
                Cases.options().ranks(4).experts(8).topk(3).tokens(10).unbalanced(2).seed(7),
                Cases.options().ranks(8).experts(32).topk(8).tokens(12, 5, 0, 7, 9, 1, 13, 4).minusOne(0.1).seed(8),
                Cases.options().ranks(16).experts(32).topk(4).tokens(3).minusOne(0.2).seed(9),
                Cases.options().ranks(16).experts(16).topk(2).tokens(2, 0, 1, 0, 3, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0, 4)
                        .seed(10));
    }

    /** (routing, expertAlignment, numWorstTokens extra rows or -1, biases, int32 topk) */
    static Stream<Arguments> dispatchCases() {
        int[] n = {0};
        return routings().flatMap(o -> {
            int i = n[0]++;
            return Stream.of(
                    Arguments.of(o, 1, -1, i % 3, false),
                    Arguments.of(o, 4, -1, (i + 1) % 3, true),
                    Arguments.of(o, 3, i % 2 == 0 ? 0 : 5, (i + 2) % 3, i % 2 == 0));
        });
    }

    record Got(int[] perRank, int[] perExpert, byte[] inRank, long rows, byte[] x, DType idxType, long[] idx,
            float[] w, int[] perLocal, int[] perLocalList, byte[] hInRank, int[] sendRow, int[] sourceToken,
            int[] offsets, short[] combined, float[] combinedW) {
    }

    @ParameterizedTest(name = "[{index}] {0} align={1} worst+={2} biases={3} int32={4}")
    @MethodSource("dispatchCases")
    void dispatchThenCombineMatchesOracle(Cases.Options o, int alignment, int worstExtra, int biases, boolean int32) {
        Cases.Case c = o.generate();
        int H = c.hidden;
        int worst = worstExtra < 0 ? 0 : Arrays.stream(Oracle.receivedRows(c)).max().orElse(0) + worstExtra;
        Oracle.Layout[] wantLayout = new Oracle.Layout[c.ranks];
        for (int r = 0; r < c.ranks; r++) {
            wantLayout[r] = Oracle.layout(c.topkIdx[r], c.tokens[r], c.topk, c.ranks, c.experts);
        }
        Oracle.Dispatch[] want = Oracle.dispatch(c, alignment, worst);
        short[][] y = new short[c.ranks][];
        float[][] recvW = new float[c.ranks][];
        short[][] b0 = biases >= 1 ? new short[c.ranks][] : null;
        short[][] b1 = biases >= 2 ? new short[c.ranks][] : null;
        for (int r = 0; r < c.ranks; r++) {
            y[r] = Host.randomBf16(want[r].rows() * H, 100 + r);
            recvW[r] = want[r].topkWeights();
            if (b0 != null) {
                b0[r] = Host.randomBf16(c.tokens[r] * H, 200 + r);
            }
            if (b1 != null) {
                b1[r] = Host.randomBf16(c.tokens[r] * H, 300 + r);
            }
        }
        Oracle.Combine[] wantC = Oracle.combine(c, want, y, recvW, b0, b1);

        // numWorstTokens may be at most ranks * maxTokensPerRank (what a rank can receive).
        BufferSpec spec = BufferSpec.normal(H, Math.max(Math.max(1, c.maxTokens()), worst));
        List<Got> got = Host.run(c.ranks, spec, (r, buf) -> {
            try (Tensor x = c.x(r);
                    Tensor idx = int32 ? c.topkIdxInt32(r) : c.topkIdx(r);
                    Tensor w = c.topkWeights(r);
                    DispatchLayout layout = buf.layout(idx, c.experts);
                    Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(layout)
                            .expertAlignment(alignment).numWorstTokens(worst))) {
                DispatchHandle h = d.handle();
                int[] list = null;
                if (worst > 0) {
                    assertThrows(IllegalStateException.class, d::tokensPerExpertList);
                } else {
                    list = d.tokensPerExpertList();
                }
                assertEquals(DType.BF16, d.x().dtype());
                assertEquals(idx.dtype(), d.topkIdx().dtype());
                assertNull(d.scales());
                try (Tensor yt = Host.bf16(y[r], d.numRows(), H);
                        Tensor bias0 = b0 == null ? null : Host.bf16(b0[r], c.tokens[r], H);
                        Tensor bias1 = b1 == null ? null : Host.bf16(b1[r], c.tokens[r], H)) {
                    CombineArgs ca = CombineArgs.of(yt, h).topkWeights(d.topkWeights());
                    if (bias1 != null) {
                        ca.bias(bias0, bias1);
                    } else if (bias0 != null) {
                        ca.bias(bias0);
                    }
                    try (Combined cb = buf.combine(ca)) {
                        assertArrayEquals(new long[] {c.tokens[r], H}, cb.x().shape());
                        return new Got(Host.ints(layout.tokensPerRank()), Host.ints(layout.tokensPerExpert()),
                                Host.bytes(layout.isTokenInRank()), d.numRows(), Host.bytes(d.x()), d.topkIdx().dtype(),
                                Host.longs(d.topkIdx()), Host.floats(d.topkWeights()), Host.ints(d.tokensPerExpert()),
                                list, Host.bytes(h.isTokenInRank()), Host.ints(h.sendRow()), Host.ints(h.sourceToken()),
                                Host.ints(h.sourceRankOffsets()), Host.shorts(cb.x()), Host.floats(cb.topkWeights()));
                    }
                }
            }
        });
        for (int r = 0; r < c.ranks; r++) {
            Got g = got.get(r);
            String at = "rank " + r + " of " + c;
            assertArrayEquals(wantLayout[r].tokensPerRank(), g.perRank(), "layout.tokensPerRank " + at);
            assertArrayEquals(wantLayout[r].tokensPerExpert(), g.perExpert(), "layout.tokensPerExpert " + at);
            assertArrayEquals(wantLayout[r].isTokenInRank(), g.inRank(), "layout.isTokenInRank " + at);
            assertEquals(want[r].rows(), g.rows(), "rows " + at);
            assertArrayEquals(want[r].x(), g.x(), "x " + at);
            assertArrayEquals(want[r].topkIdx(), g.idx(), "topkIdx " + at);
            assertArrayEquals(want[r].topkWeights(), g.w(), "topkWeights " + at);
            assertArrayEquals(want[r].tokensPerExpert(), g.perLocal(), "tokensPerExpert " + at);
            if (worst == 0) {
                assertArrayEquals(want[r].tokensPerExpert(), g.perLocalList(), "tokensPerExpertList " + at);
            }
            assertArrayEquals(wantLayout[r].isTokenInRank(), g.hInRank(), "handle.isTokenInRank " + at);
            assertArrayEquals(want[r].sendRow(), g.sendRow(), "handle.sendRow " + at);
            assertArrayEquals(want[r].sourceToken(), g.sourceToken(), "handle.sourceToken " + at);
            assertArrayEquals(want[r].sourceRankOffsets(), g.offsets(), "handle.sourceRankOffsets " + at);
            assertArrayEquals(wantC[r].x(), g.combined(), "combined x " + at);
            assertArrayEquals(wantC[r].topkWeights(), g.combinedW(), "combined topkWeights " + at);
        }
    }

    static Stream<Cases.Options> fp8Routings() {
        return Stream.of(
                Cases.options().ranks(1).experts(2).topk(1).tokens(4).hidden(256).seed(21),
                Cases.options().ranks(2).experts(8).topk(3).tokens(6, 0).hidden(256).minusOne(0.2).seed(22),
                Cases.options().ranks(3).experts(6).topk(2).tokens(4, 7, 2).hidden(640).seed(23),
                Cases.options().ranks(8).experts(16).topk(4).tokens(3, 1, 0, 5, 2, 4, 0, 6).hidden(128).seed(24));
    }

    static Stream<Arguments> fp8Cases() {
        return fp8Routings().flatMap(o -> Stream.of(Arguments.of(o, Oracle.Fp8.DEFAULT), Arguments.of(o, Oracle.Fp8.UE8M0)));
    }

    /** fp8 dispatch carries the bytes and the scales unchanged; a cached bf16 dispatch then reuses its routing. */
    @ParameterizedTest(name = "[{index}] {0} {1}")
    @MethodSource("fp8Cases")
    void fp8DispatchCarriesScalesAndCachedDispatchReusesRouting(Cases.Options o, Oracle.Fp8 mode) {
        Cases.Case c = o.generate();
        int H = c.hidden;
        int srb = Oracle.scaleRowBytes(H, mode);
        byte[][] q = new byte[c.ranks][];
        byte[][] s = new byte[c.ranks][];
        short[][] x2 = new short[c.ranks][];
        byte[][] x2b = new byte[c.ranks][];
        for (int r = 0; r < c.ranks; r++) {
            byte[][] qs = Oracle.quantize(c.x[r], c.tokens[r], H, mode);
            q[r] = qs[0];
            s[r] = qs[1];
            x2[r] = Host.randomBf16(c.tokens[r] * H, 400 + r);
            x2b[r] = Oracle.bytes(x2[r]);
        }
        Oracle.Dispatch[] want = Oracle.dispatch(c, q, H, s, srb, 2, 0);
        Oracle.Dispatch[] want2 = Oracle.dispatch(c, x2b, 2 * H, null, 0, 2, 0);
        DType scaleType = mode == Oracle.Fp8.UE8M0 ? DType.INT32 : DType.FLOAT32;
        BufferSpec spec = BufferSpec.normal(H, Math.max(1, c.maxTokens()));
        List<Object[]> got = Host.run(c.ranks, spec, (r, buf) -> {
            try (Tensor x = Tensor.ofBytes(q[r], DType.FP8_E4M3, c.tokens[r], H);
                    Tensor sc = Tensor.ofBytes(s[r], scaleType, c.tokens[r], srb / 4);
                    Tensor idx = c.topkIdx(r);
                    Tensor w = c.topkWeights(r);
                    DispatchLayout layout = buf.layout(idx, c.experts);
                    Dispatched d = buf.dispatch(DispatchArgs.fp8(x, sc).topk(idx, w).layout(layout).expertAlignment(2));
                    Tensor xb = Host.bf16(x2[r], c.tokens[r], H);
                    Dispatched d2 = buf.dispatch(DispatchArgs.of(xb).cached(d.handle()).expertAlignment(2))) {
                assertEquals(DType.FP8_E4M3, d.x().dtype());
                assertEquals(scaleType, d.scales().dtype());
                assertNull(d2.topkIdx());
                assertNull(d2.topkWeights());
                assertNull(d2.scales());
                assertEquals(d.numRows(), d2.numRows());
                assertArrayEquals(d.tokensPerExpertList(), d2.tokensPerExpertList());
                assertArrayEquals(Host.ints(d.handle().sourceToken()), Host.ints(d2.handle().sourceToken()));
                assertArrayEquals(Host.ints(d.handle().sendRow()), Host.ints(d2.handle().sendRow()));
                return new Object[] {Host.bytes(d.x()), Host.bytes(d.scales()), Host.bytes(d2.x()),
                        Host.ints(d.tokensPerExpert())};
            }
        });
        for (int r = 0; r < c.ranks; r++) {
            String at = "rank " + r + " of " + c;
            assertArrayEquals(want[r].x(), (byte[]) got.get(r)[0], "fp8 x " + at);
            assertArrayEquals(want[r].scales(), (byte[]) got.get(r)[1], "scales " + at);
            assertArrayEquals(want2[r].x(), (byte[]) got.get(r)[2], "cached bf16 x " + at);
            assertArrayEquals(want[r].tokensPerExpert(), (int[]) got.get(r)[3], "tokensPerExpert " + at);
        }
    }

    /** Without topk the routing comes from the layout alone; combine without weights gives no weights. */
    @ParameterizedTest
    @MethodSource("routings")
    void dispatchWithoutTopkAndCombineWithoutWeights(Cases.Options o) {
        Cases.Case c = o.generate();
        int H = c.hidden;
        Oracle.Dispatch[] want = Oracle.dispatch(c, 1, 0);
        short[][] y = new short[c.ranks][];
        for (int r = 0; r < c.ranks; r++) {
            y[r] = Host.randomBf16(want[r].rows() * H, 500 + r);
        }
        Oracle.Combine[] wantC = Oracle.combine(c, want, y, null, null, null);
        List<Object[]> got = Host.run(c.ranks, BufferSpec.normal(H, Math.max(1, c.maxTokens())), (r, buf) -> {
            try (Tensor x = c.x(r);
                    Tensor idx = c.topkIdx(r);
                    DispatchLayout layout = buf.layout(idx, c.experts);
                    Dispatched d = buf.dispatch(DispatchArgs.of(x).layout(layout));
                    Tensor yt = Host.bf16(y[r], d.numRows(), H);
                    Combined cb = buf.combine(CombineArgs.of(yt, d.handle()))) {
                assertNull(d.topkIdx());
                assertNull(d.topkWeights());
                assertNull(cb.topkWeights());
                return new Object[] {Host.bytes(d.x()), d.tokensPerExpertList(), Host.shorts(cb.x())};
            }
        });
        for (int r = 0; r < c.ranks; r++) {
            assertArrayEquals(want[r].x(), (byte[]) got.get(r)[0], "x rank " + r);
            assertArrayEquals(want[r].tokensPerExpert(), (int[]) got.get(r)[1], "tokensPerExpert rank " + r);
            assertArrayEquals(wantC[r].x(), (short[]) got.get(r)[2], "combined rank " + r);
        }
    }
}
