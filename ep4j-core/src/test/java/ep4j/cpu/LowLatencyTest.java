package ep4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.DType;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import ep4j.oracle.Oracle;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Low-latency dispatch and combine on the CPU backend against the brute-force oracle. */
class LowLatencyTest {

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of(Cases.options().ranks(1).experts(4).topk(2).tokens(5).hidden(256).seed(31), 8, null, false),
                Arguments.of(Cases.options().ranks(2).experts(8).topk(3).tokens(6, 0).hidden(256).minusOne(0.2).seed(32),
                        6, Oracle.Fp8.DEFAULT, true),
                Arguments.of(Cases.options().ranks(3).experts(6).topk(2).tokens(4, 7, 2).hidden(640).duplicates(0.5)
                        .seed(33), 7, Oracle.Fp8.ROUND_SCALE, false),
                Arguments.of(Cases.options().ranks(4).experts(16).topk(4).tokens(5, 0, 8, 3).hidden(640).minusOne(0.1)
                        .allowedExperts(e -> e % 4 != 1).seed(34), 8, Oracle.Fp8.UE8M0, true),
                Arguments.of(Cases.options().ranks(4).experts(8).topk(2).tokens(6).hidden(128).unbalanced(1).seed(35), 6,
                        null, true),
                Arguments.of(Cases.options().ranks(8).experts(16).topk(4).tokens(3, 1, 0, 5, 2, 4, 0, 6).hidden(128)
                        .seed(36), 6, Oracle.Fp8.UE8M0, false),
                Arguments.of(Cases.options().ranks(16).experts(32).topk(3).tokens(2).hidden(128).minusOne(0.2).seed(37),
                        2, null, false),
                Arguments.of(Cases.options().ranks(16).experts(16).topk(2).tokens(1).hidden(128).seed(38), 3,
                        Oracle.Fp8.DEFAULT, true));
    }

    @Test
    void closingADispatchEndsItsReadsFreesNothingAndKeepsItsHandle() {
        Cases.Case c = Cases.options().ranks(2).experts(4).topk(2).tokens(3, 2).hidden(128).seed(41).generate();
        int n = 4;
        int h = c.hidden;
        int l = c.localExperts();
        int cap = c.ranks * n;
        Oracle.LowLatencyDispatch[] want = Oracle.lowLatencyDispatch(c, n, null);
        short[][] y = new short[c.ranks][];
        for (int r = 0; r < c.ranks; r++) {
            y[r] = Host.randomBf16(l * cap * h, 700 + r);
        }
        short[][] wantOut = Oracle.lowLatencyCombine(c, want, y);
        List<short[]> got = Host.run(c.ranks, BufferSpec.normal(h, n).lowLatency(n, c.experts), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), idx, c.experts));
            Tensor view = d.x();
            MemorySegment rows = view.segment();
            d.close();
            d.close();
            assertTrue(d.isClosed());
            assertThrows(IllegalStateException.class, d::x);
            assertThrows(IllegalStateException.class, d::recvCount);
            assertThrows(IllegalStateException.class, view::segment, "a tensor it returned is closed too");
            rows.get(ValueLayout.JAVA_BYTE, rows.byteSize() - 1); // the buffer's memory was not freed
            assertTrue(d.handle().isValid());
            try (LowLatencyCombined cb = buf.lowLatencyCombine(
                    LowLatencyCombineArgs.of(Host.bf16(y[r], l, cap, h), idx, c.topkWeights(r), d.handle()))) {
                return Host.shorts(cb.x());
            }
        });
        for (int r = 0; r < c.ranks; r++) {
            assertArrayEquals(wantOut[r], got.get(r), "combine after close, rank " + r);
        }
    }

    record Got(int[] recvCount, byte[] x, byte[] scales, int[] sourceToken, int[] ranges, short[] out) {
    }

    @ParameterizedTest(name = "[{index}] {0} N={1} {2} hook={3}")
    @MethodSource("cases")
    void dispatchThenCombineMatchesOracle(Cases.Options o, int n, Oracle.Fp8 mode, boolean hook) {
        Cases.Case c = o.generate();
        int H = c.hidden;
        int L = c.localExperts();
        int cap = c.ranks * n;
        Oracle.LowLatencyDispatch[] want = Oracle.lowLatencyDispatch(c, n, mode);
        short[][] y = new short[c.ranks][];
        for (int r = 0; r < c.ranks; r++) {
            y[r] = Host.randomBf16(L * cap * H, 600 + r);
        }
        short[][] wantOut = Oracle.lowLatencyCombine(c, want, y);
        BufferSpec spec = BufferSpec.normal(H, n).lowLatency(n, c.experts);
        List<Got> got = Host.run(c.ranks, spec, (r, buf) -> {
            try (Tensor x = c.x(r); Tensor idx = c.topkIdx(r); Tensor w = c.topkWeights(r);
                    Tensor yt = Host.bf16(y[r], L, cap, H)) {
                LowLatencyDispatchArgs args = LowLatencyDispatchArgs.of(x, idx, c.experts).returnRecvHook(hook);
                if (mode != null) {
                    args.fp8(mode != Oracle.Fp8.DEFAULT, mode == Oracle.Fp8.UE8M0);
                }
                LowLatencyDispatched d = buf.lowLatencyDispatch(args);
                if (hook) {
                    assertThrows(IllegalStateException.class, d::x);
                    assertThrows(IllegalStateException.class, d::recvCount);
                    d.hook().receive();
                    d.hook().receive();
                } else {
                    assertNull(d.hook());
                }
                assertArrayEquals(new long[] {L, cap, H}, d.x().shape());
                assertEquals(mode == null ? DType.BF16 : DType.FP8_E4M3, d.x().dtype());
                int[] count = Host.ints(d.recvCount());
                int xrb = mode == null ? 2 * H : H;
                byte[] xs = Oracle.validRows(Host.bytes(d.x()), xrb, cap, count);
                byte[] ss = null;
                if (mode != null) {
                    assertEquals(mode == Oracle.Fp8.UE8M0 ? DType.INT32 : DType.FLOAT32, d.scales().dtype());
                    ss = Oracle.validRows(Host.bytes(d.scales()), Oracle.scaleRowBytes(H, mode), cap, count);
                } else {
                    assertNull(d.scales());
                }
                int[] src = Host.ints(d.handle().sourceToken());
                int[] ranges = Host.ints(d.handle().ranges());
                LowLatencyCombined cb = buf.lowLatencyCombine(
                        LowLatencyCombineArgs.of(yt, idx, w, d.handle()).returnRecvHook(hook));
                if (hook) {
                    assertThrows(IllegalStateException.class, cb::x);
                    cb.hook().receive();
                    cb.hook().receive();
                }
                short[] out = Host.shorts(cb.x());
                cb.close();
                return new Got(count, xs, ss, src, ranges, out);
            }
        });
        for (int r = 0; r < c.ranks; r++) {
            String at = "rank " + r + " of " + c;
            Got g = got.get(r);
            assertArrayEquals(want[r].recvCount(), g.recvCount(), "recvCount " + at);
            assertArrayEquals(Oracle.validRows(want[r].x(), want[r].xRowBytes(), cap, want[r].recvCount()), g.x(), "x " + at);
            if (mode != null) {
                assertArrayEquals(Oracle.validRows(want[r].scales(), want[r].scaleRowBytes(), cap, want[r].recvCount()),
                        g.scales(), "scales " + at);
            }
            assertArrayEquals(want[r].sourceToken(), g.sourceToken(), "sourceToken " + at);
            assertArrayEquals(want[r].ranges(), g.ranges(), "ranges " + at);
            assertArrayEquals(wantOut[r], g.out(), "combined " + at);
        }
    }

    /** Three cases with the same shapes but different data, for the double-buffering tests. */
    private static Cases.Case[] threeCases(int ranks) {
        Cases.Case[] cs = new Cases.Case[3];
        for (int i = 0; i < 3; i++) {
            cs[i] = Cases.options().ranks(ranks).experts(4 * ranks).topk(2).tokens(4).hidden(128).seed(70 + i).generate();
        }
        return cs;
    }

    @Test
    void resultsGoStaleAfterTwoMoreDispatches() {
        Cases.Case[] cs = threeCases(2);
        int n = 4;
        int L = 4;
        int cap = 2 * n;
        Oracle.LowLatencyDispatch[][] want = new Oracle.LowLatencyDispatch[3][];
        for (int i = 0; i < 3; i++) {
            want[i] = Oracle.lowLatencyDispatch(cs[i], n, null);
        }
        List<byte[][]> got = Host.run(2, BufferSpec.normal(128, n).lowLatency(n, 8), (r, buf) -> {
            LowLatencyDispatched[] d = new LowLatencyDispatched[3];
            for (int i = 0; i < 3; i++) {
                d[i] = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(cs[i].x(r), cs[i].topkIdx(r), 8));
                if (i == 1) {
                    assertTrue(d[0].handle().isValid());
                }
            }
            assertFalse(d[0].handle().isValid());
            assertTrue(d[1].handle().isValid());
            assertTrue(d[2].handle().isValid());
            assertThrows(IllegalStateException.class, d[0]::x);
            assertThrows(IllegalStateException.class, () -> d[0].handle().sourceToken());
            Tensor y = Tensor.allocateHost(DType.BF16, L, cap, 128);
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> buf.lowLatencyCombine(
                    LowLatencyCombineArgs.of(y, cs[0].topkIdx(r), cs[0].topkWeights(r), d[0].handle())));
            assertEquals("handle", e.argument());
            assertTrue(e.getMessage().contains("stale"), e.getMessage());
            // The two live results still hold their own data.
            return new byte[][] {Oracle.validRows(Host.bytes(d[1].x()), 256, cap, Host.ints(d[1].recvCount())),
                    Oracle.validRows(Host.bytes(d[2].x()), 256, cap, Host.ints(d[2].recvCount()))};
        });
        for (int r = 0; r < 2; r++) {
            assertArrayEquals(Oracle.validRows(want[1][r].x(), 256, cap, want[1][r].recvCount()), got.get(r)[0]);
            assertArrayEquals(Oracle.validRows(want[2][r].x(), 256, cap, want[2][r].recvCount()), got.get(r)[1]);
        }
    }

    @Test
    void aHookNotReceivedGoesStaleAndTheOthersStillWork() {
        Cases.Case[] cs = threeCases(3);
        int n = 4;
        Oracle.LowLatencyDispatch[] want2 = Oracle.lowLatencyDispatch(cs[2], n, null);
        List<int[]> got = Host.run(3, BufferSpec.normal(128, n).lowLatency(n, 12), (r, buf) -> {
            LowLatencyDispatched[] d = new LowLatencyDispatched[3];
            for (int i = 0; i < 3; i++) {
                d[i] = buf.lowLatencyDispatch(
                        LowLatencyDispatchArgs.of(cs[i].x(r), cs[i].topkIdx(r), 12).returnRecvHook(true));
            }
            assertThrows(IllegalStateException.class, () -> d[0].hook().receive());
            d[2].hook().receive();
            d[1].hook().receive();
            return Host.ints(d[2].handle().sourceToken());
        });
        for (int r = 0; r < 3; r++) {
            assertArrayEquals(want2[r].sourceToken(), got.get(r));
        }
    }

    @Test
    void zeroCopyCombineReadsTheBufferInPlaceAndRejectsOtherTensors() {
        Cases.Case c = Cases.options().ranks(4).experts(8).topk(3).tokens(5, 2, 0, 6).hidden(256).minusOne(0.2).seed(81)
                .generate();
        int n = 6;
        int L = 2;
        int cap = 4 * n;
        Oracle.LowLatencyDispatch[] want = Oracle.lowLatencyDispatch(c, n, Oracle.Fp8.DEFAULT);
        short[][] y = new short[4][];
        for (int r = 0; r < 4; r++) {
            y[r] = Host.randomBf16(L * cap * 256, 800 + r);
        }
        short[][] wantOut = Oracle.lowLatencyCombine(c, want, y);
        List<short[]> got = Host.run(4, BufferSpec.normal(256, n).lowLatency(n, 8), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            Tensor w = c.topkWeights(r);
            LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), idx, 8).fp8());
            Tensor in = buf.lowLatencyCombineInput(d.handle());
            assertArrayEquals(new long[] {L, cap, 256}, in.shape());
            Tensor other = Host.bf16(y[r], L, cap, 256);
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> buf.lowLatencyCombine(
                    LowLatencyCombineArgs.of(other, idx, w, d.handle()).zeroCopy(true)));
            assertEquals("y", e.argument());
            MemorySegment.copy(y[r], 0, in.segment(), ValueLayout.JAVA_SHORT_UNALIGNED, 0, y[r].length);
            Tensor out = Tensor.allocateHost(DType.BF16, c.tokens[r], 256);
            LowLatencyCombined cb = buf.lowLatencyCombine(
                    LowLatencyCombineArgs.of(in, idx, w, d.handle()).zeroCopy(true).out(out));
            assertSame(out, cb.x());
            return Host.shorts(out);
        });
        for (int r = 0; r < 4; r++) {
            assertArrayEquals(wantOut[r], got.get(r), "rank " + r);
        }
    }

    @Test
    void combineNeedsTheDispatchTopkAndItsReceive() {
        Cases.Case c = Cases.options().ranks(2).experts(4).topk(2).tokens(3).hidden(128).seed(91).generate();
        Host.run(2, BufferSpec.normal(128, 4).lowLatency(4, 4), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), idx, 4).returnRecvHook(true));
            Tensor y = Tensor.allocateHost(DType.BF16, 2, 8, 128);
            IllegalStateException notReceived = assertThrows(IllegalStateException.class,
                    () -> buf.lowLatencyCombine(LowLatencyCombineArgs.of(y, idx, c.topkWeights(r), d.handle())));
            assertTrue(notReceived.getMessage().contains("receive"), notReceived.getMessage());
            d.hook().receive();
            long[] other = c.topkIdx[r].clone();
            other[1] = other[1] == 3 ? 2 : 3;
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> buf.lowLatencyCombine(
                    LowLatencyCombineArgs.of(y, Tensor.ofLongs(other, 3, 2), c.topkWeights(r), d.handle())));
            assertEquals("topkIdx[0][1]", e.argument());
            assertEquals(String.valueOf(other[1]), e.value());
            return null;
        });
    }

    /**
     * Each token's two expert rows are +x and -x with equal weights: a fused multiply-add leaves the
     * rounding error of the first product (a tiny non-zero value), a separate multiply and add give
     * exactly zero. So this fails for any backend that does not use fma, k ascending.
     */
    @Test
    void combineUsesFusedMultiplyAdd() {
        Cases.Case base = Cases.options().ranks(3).experts(6).topk(2).tokens(5, 4, 6).hidden(128).seed(99).generate();
        float[][] w = new float[3][];
        for (int r = 0; r < 3; r++) {
            w[r] = base.topkWeights[r].clone();
            for (int t = 0; t < base.tokens[r]; t++) {
                w[r][2 * t + 1] = w[r][2 * t];
            }
        }
        Cases.Case c = new Cases.Case(3, 6, 128, 2, base.tokens, base.x, base.topkIdx, w, "fma case");
        int n = 6;
        int cap = 3 * n;
        Oracle.LowLatencyDispatch[] d = Oracle.lowLatencyDispatch(c, n, null);
        short[][] y = new short[3][];
        for (int j = 0; j < 3; j++) {
            y[j] = new short[2 * cap * 128];
            for (int l = 0; l < 2; l++) {
                for (int row = 0; row < d[j].recvCount()[l]; row++) {
                    int at = l * cap + row;
                    int i = d[j].sourceRank()[at];
                    int t = d[j].sourceToken()[at];
                    boolean second = c.topkIdx[i][2 * t + 1] == (long) j * 2 + l;
                    for (int h = 0; h < 128; h++) {
                        short v = c.x[i][t * 128 + h];
                        y[j][at * 128 + h] = second ? (short) (v ^ 0x8000) : v;
                    }
                }
            }
        }
        short[][] want = Oracle.lowLatencyCombine(c, d, y);
        int nonZero = 0;
        for (short[] o : want) {
            for (short v : o) {
                nonZero += (v & 0x7FFF) != 0 ? 1 : 0;
            }
        }
        assertTrue(nonZero > 100, "the case shows fma: " + nonZero + " non-zero outputs");
        List<short[]> got = Host.run(3, BufferSpec.normal(128, n).lowLatency(n, 6), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            LowLatencyDispatched ld = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), idx, 6));
            try (LowLatencyCombined cb = buf.lowLatencyCombine(LowLatencyCombineArgs.of(Host.bf16(y[r], 2, cap, 128),
                    idx, c.topkWeights(r), ld.handle()))) {
                return Host.shorts(cb.x());
            }
        });
        for (int r = 0; r < 3; r++) {
            assertArrayEquals(want[r], got.get(r), "rank " + r);
        }
    }
}
