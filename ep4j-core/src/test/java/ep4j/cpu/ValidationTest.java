package ep4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import ep4j.oracle.Oracle;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Bad calls are rejected with an exception naming the argument, the bad value and what was
 * expected, before anything changes: the same buffer then serves a good call correctly.
 */
class ValidationTest {
    private static final int H = 128;

    private static InvalidArgumentException invalid(String argument, Object value, Executable call) {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, call);
        assertEquals(argument, e.argument(), e.getMessage());
        assertEquals(String.valueOf(value), e.value(), e.getMessage());
        assertTrue(e.getMessage().contains(argument) && e.getMessage().contains(String.valueOf(value)), e.getMessage());
        assertFalse(e.expected().isBlank());
        return e;
    }

    /** After the rejected calls, a good dispatch on the same buffers matches the oracle: nothing changed. */
    private static void assertGood(Cases.Case c, List<byte[]> got) {
        Oracle.Dispatch[] want = Oracle.dispatch(c, 1, 0);
        for (int r = 0; r < c.ranks; r++) {
            assertArrayEquals(want[r].x(), got.get(r), "rank " + r);
        }
    }

    private static byte[] goodDispatch(Cases.Case c, int r, EpBuffer buf) {
        try (Tensor idx = c.topkIdx(r);
                DispatchLayout layout = buf.layout(idx, c.experts);
                Dispatched d = buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(layout))) {
            return Host.bytes(d.x());
        }
    }

    private static Cases.Case small(int ranks) {
        return Cases.options().ranks(ranks).experts(4 * ranks).topk(2).tokens(4).hidden(H).seed(ranks).generate();
    }

    @Test
    void wrongDtype() {
        Cases.Case c = small(2);
        List<byte[]> got = Host.run(2, BufferSpec.normal(H, 8), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            DispatchLayout layout = buf.layout(idx, c.experts);
            Tensor xf = Tensor.allocateHost(DType.FLOAT32, 4, H);
            invalid("x.dtype", "FLOAT32", () -> buf.dispatch(DispatchArgs.of(xf).topk(idx, null).layout(layout)));
            Tensor idxF = Tensor.allocateHost(DType.FLOAT32, 4, 2);
            invalid("topkIdx.dtype", "FLOAT32", () -> buf.layout(idxF, c.experts));
            Tensor w64 = Tensor.allocateHost(DType.INT64, 4, 2);
            invalid("topkWeights.dtype", "INT64",
                    () -> buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, w64).layout(layout)));
            return goodDispatch(c, r, buf);
        });
        assertGood(c, got);
    }

    @Test
    void wrongShape() {
        Cases.Case c = small(2);
        List<byte[]> got = Host.run(2, BufferSpec.normal(H, 8), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            DispatchLayout layout = buf.layout(idx, c.experts);
            Tensor wide = Tensor.allocateHost(DType.BF16, 4, H + 8);
            invalid("x.shape", "[4, 136]", () -> buf.dispatch(DispatchArgs.of(wide).topk(idx, null).layout(layout)));
            Tensor w3 = Tensor.allocateHost(DType.FLOAT32, 4, 3);
            invalid("topkWeights.shape", "[4, 3]",
                    () -> buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, w3).layout(layout)));
            Tensor idx5 = Tensor.ofLongs(new long[10], 5, 2);
            invalid("topkIdx.shape[0]", 5, () -> buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx5, null).layout(layout)));
            return goodDispatch(c, r, buf);
        });
        assertGood(c, got);
    }

    @Test
    void topkIndexOutOfRangeChangesNothing() {
        Cases.Case c = small(2);
        List<byte[]> got = Host.run(2, BufferSpec.normal(H, 8).lowLatency(8, 8), (r, buf) -> {
            long[] bad = c.topkIdx[r].clone();
            bad[5] = 8;
            Tensor badIdx = Tensor.ofLongs(bad, 4, 2);
            int[] bad32 = new int[8];
            bad32[3] = -2;
            Tensor badIdx32 = Tensor.ofInts(bad32, 4, 2);
            Tensor idx = c.topkIdx(r);
            InvalidArgumentException e = invalid("topkIdx[2][1]", 8, () -> buf.layout(badIdx, c.experts));
            assertTrue(e.getMessage().contains("-1 or an expert in [0, 8)"), e.getMessage());
            invalid("topkIdx[1][1]", -2, () -> buf.layout(badIdx32, c.experts));
            DispatchLayout layout = buf.layout(idx, c.experts);
            invalid("topkIdx[2][1]", 8, () -> buf.dispatch(DispatchArgs.of(c.x(r)).topk(badIdx, null).layout(layout)));
            invalid("topkIdx[2][1]", 8, () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), badIdx, 8)));
            // Nothing changed: the next collective calls are the first ones on this buffer and match the oracle.
            LowLatencyDispatched ll = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), idx, 8));
            assertEquals(0, ll.handle().generation());
            return goodDispatch(c, r, buf);
        });
        assertGood(c, got);
    }

    @Test
    void expertsNotAMultipleOfRanks() {
        Cases.Case c = small(2);
        List<byte[]> got = Host.run(2, BufferSpec.normal(H, 8).lowLatency(8, 7), (r, buf) -> {
            invalid("numExperts", 7, () -> buf.layout(Tensor.ofLongs(new long[8], 4, 2), 7));
            invalid("numExperts", 7, () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r),
                    Tensor.ofLongs(new long[8], 4, 2), 7)));
            return goodDispatch(c, r, buf);
        });
        assertGood(c, got);
    }

    @Test
    void hiddenNotAMultipleOf128WithFp8() {
        int h = 200;
        Cases.Case c = Cases.options().ranks(2).experts(4).topk(2).tokens(3).hidden(h).seed(5).generate();
        Host.run(2, BufferSpec.normal(h, 8).lowLatency(8, 4), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            DispatchLayout layout = buf.layout(idx, 4);
            Tensor q = Tensor.allocateHost(DType.FP8_E4M3, 3, h);
            Tensor s = Tensor.allocateHost(DType.FLOAT32, 3, 1);
            invalid("hidden", h, () -> buf.dispatch(DispatchArgs.fp8(q, s).topk(idx, null).layout(layout)));
            invalid("hidden", h, () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), idx, 4).fp8()));
            // bf16 low latency works with this hidden size.
            LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), idx, 4));
            assertEquals(DType.BF16, d.x().dtype());
            return null;
        });
    }

    @Test
    void tooManyTokensForTheBuffer() {
        Cases.Case c = Cases.options().ranks(2).experts(4).topk(2).tokens(6).hidden(H).seed(6).generate();
        Host.run(2, BufferSpec.normal(H, 4).lowLatency(5, 4), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            InvalidArgumentException e = invalid("topkIdx.shape[0]", 6, () -> buf.layout(idx, 4));
            assertTrue(e.expected().contains("maxTokensPerRank"), e.getMessage());
            Tensor x = c.x(r);
            Tensor fine = Tensor.ofLongs(new long[8], 4, 2);
            DispatchLayout layout = buf.layout(fine, 4);
            invalid("x.shape[0]", 6, () -> buf.dispatch(DispatchArgs.of(x).layout(layout)));
            invalid("x.shape[0]", 6, () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, 4)));
            return null;
        });
    }

    @Test
    void numWorstTokensAboveWhatARankCanReceiveIsRejected() {
        Cases.Case c = small(2);
        List<byte[]> got = Host.run(2, BufferSpec.normal(H, 8), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            DispatchLayout layout = buf.layout(idx, c.experts);
            for (int worst : new int[] {Integer.MAX_VALUE, 17}) {
                InvalidArgumentException e = invalid("numWorstTokens", worst, () -> buf.dispatch(
                        DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(layout).numWorstTokens(worst)));
                assertTrue(e.expected().contains("1 to 16") && e.expected().contains("2 ranks x BufferSpec "
                        + "maxTokensPerRank 8"), e.getMessage());
            }
            try (Dispatched d = buf.dispatch(
                    DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(layout).numWorstTokens(16))) {
                assertEquals(16, d.numRows(), "the largest worst case a rank can receive is allowed");
            }
            return goodDispatch(c, r, buf);
        });
        assertGood(c, got);
    }

    @Test
    void numWorstTokensTooSmallFailsOnEveryRankAndChangesNothing() {
        Cases.Case c = Cases.options().ranks(3).experts(6).topk(2).tokens(5, 3, 6).hidden(H).seed(7).generate();
        int[] rows = Oracle.receivedRows(c);
        int worstRank = 0;
        for (int j = 1; j < 3; j++) {
            if (rows[j] > rows[worstRank]) {
                worstRank = j;
            }
        }
        int max = rows[worstRank];
        int target = worstRank;
        Oracle.Dispatch[] want = Oracle.dispatch(c, 1, max);
        List<byte[]> got = Host.run(3, BufferSpec.normal(H, 8), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            DispatchLayout layout = buf.layout(idx, c.experts);
            InvalidArgumentException e = invalid("numWorstTokens", max - 1, () -> buf.dispatch(
                    DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(layout).numWorstTokens(max - 1)));
            assertTrue(e.expected().contains("at least " + max + " rows (received on rank " + target + ")"),
                    e.getMessage());
            try (Dispatched d = buf.dispatch(
                    DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(layout).numWorstTokens(max))) {
                return Host.bytes(d.x());
            }
        });
        for (int r = 0; r < 3; r++) {
            assertArrayEquals(want[r].x(), got.get(r), "rank " + r);
        }
    }

    @Test
    void handleOfAnotherBufferIsRejected() {
        Cases.Case c = small(2);
        try (EpGroup g = EpGroup.cpu(2); EpBuffers a = g.allocate(BufferSpec.normal(H, 8));
                EpBuffers b = g.allocate(BufferSpec.normal(H, 8))) {
            List<Dispatched> ds = g.onEachRank(r -> {
                Tensor idx = c.topkIdx(r);
                DispatchLayout layout = a.rank(r).layout(idx, c.experts);
                Dispatched d = a.rank(r).dispatch(DispatchArgs.of(c.x(r)).topk(idx, null).layout(layout));
                invalid("handle", "a handle of rank " + r + " of another buffer",
                        () -> b.rank(r).dispatch(DispatchArgs.of(c.x(r)).cached(d.handle())));
                Tensor y = Tensor.allocateHost(DType.BF16, d.numRows(), H);
                invalid("handle", "a handle of rank " + r + " of another buffer",
                        () -> b.rank(r).combine(CombineArgs.of(y, d.handle())));
                return d;
            });
            // The buffer of another rank of the same set is another buffer too (checked before any collective).
            Tensor y = Tensor.allocateHost(DType.BF16, ds.get(0).numRows(), H);
            invalid("handle", "a handle of rank 0 of another buffer",
                    () -> a.rank(1).combine(CombineArgs.of(y, ds.get(0).handle())));
            invalid("handle", "a handle of rank 0 of another buffer",
                    () -> a.rank(1).dispatch(DispatchArgs.of(c.x(1)).cached(ds.get(0).handle())));
            List<byte[]> got = g.onEachRank(r -> goodDispatch(c, r, b.rank(r)));
            assertGood(c, got);
        }
    }

    @Test
    void layoutOfOtherTopkIsRejected() {
        Cases.Case c = small(2);
        List<byte[]> got = Host.run(2, BufferSpec.normal(H, 8), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            Tensor other = Tensor.ofLongs(new long[8], 4, 2);
            DispatchLayout wrong = buf.layout(other, c.experts);
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, null).layout(wrong)));
            assertTrue(e.argument().startsWith("layout."), e.getMessage());
            return goodDispatch(c, r, buf);
        });
        assertGood(c, got);
    }

    @Test
    void closedBufferRejectsCallsAndFreesItsResults() {
        Cases.Case c = small(2);
        try (EpGroup g = EpGroup.cpu(2)) {
            EpBuffers bufs = g.allocate(BufferSpec.normal(H, 8).lowLatency(8, 8));
            List<Dispatched> results = g.onEachRank(r -> {
                Tensor idx = c.topkIdx(r);
                EpBuffer buf = bufs.rank(r);
                return buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, null).layout(buf.layout(idx, c.experts)));
            });
            bufs.close();
            assertDoesNotThrow(bufs::close);
            for (int rank = 0; rank < 2; rank++) {
                int r = rank;
                EpBuffer buf = bufs.rank(r);
                assertTrue(buf.isClosed());
                assertTrue(results.get(r).isClosed(), "buffer close frees the results it owns");
                assertThrows(IllegalStateException.class, () -> results.get(r).x());
                Tensor idx = c.topkIdx(r);
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> buf.layout(idx, c.experts));
                assertTrue(e.getMessage().contains("rank " + r) && e.getMessage().contains("closed"), e.getMessage());
                assertThrows(IllegalStateException.class, () -> buf.dispatch(DispatchArgs.of(c.x(r))));
                assertThrows(IllegalStateException.class,
                        () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), idx, 8)));
            }
        }
    }
}
