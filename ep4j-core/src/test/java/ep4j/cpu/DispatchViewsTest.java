package ep4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import ep4j.oracle.Oracle;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The GPU's rule for normal dispatch outputs, on the CPU backend: the received tokens, scales,
 * top-k, weights and the handle's source tokens are views of one of two receive slots that
 * consecutive dispatches (fresh and cached) alternate; they expire when the dispatch after next
 * refills their slot, and {@link Dispatched#keep()} copies them out first.
 */
class DispatchViewsTest {
    private static final int R = 3;
    private static final int H = 128;
    private static final int E = 6;
    private static final int MAX_TOKENS = 16;

    /** Cases of growing size (so that each slot also grows), different rows in each. */
    private static final Cases.Case[] CASES = new Cases.Case[5];
    private static final Oracle.Dispatch[][] WANT = new Oracle.Dispatch[5][];

    static {
        for (int i = 0; i < CASES.length; i++) {
            CASES[i] = Cases.options().ranks(R).experts(E).topk(2).tokens(3 + 3 * i, 2 + 2 * i, 1 + 3 * i).hidden(H)
                    .minusOne(0.1).seed(500 + i).generate();
            WANT[i] = Oracle.dispatch(CASES[i], 1, 0);
        }
    }

    private static BufferSpec spec() {
        return BufferSpec.normal(H, MAX_TOKENS);
    }

    /** A fresh bf16 dispatch of case {@code i} with its topk and weights. */
    private static Dispatched fresh(EpBuffer buf, int i, int r) {
        Cases.Case c = CASES[i];
        Tensor idx = c.topkIdx(r);
        try (DispatchLayout layout = buf.layout(idx, E)) {
            return buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(layout));
        }
    }

    private static void assertExpired(Tensor view, int slot, int r) {
        IllegalStateException e = assertThrows(IllegalStateException.class, view::toByteArray);
        assertTrue(e.getMessage().contains("normal receive slot " + slot + " of rank " + r), e.getMessage());
    }

    private static void assertReceived(Oracle.Dispatch want, Dispatched d, String at) {
        assertArrayEquals(want.x(), Host.bytes(d.x()), "x " + at);
        assertArrayEquals(want.topkIdx(), Host.longs(d.topkIdx()), "topkIdx " + at);
        assertArrayEquals(want.topkWeights(), Host.floats(d.topkWeights()), "topkWeights " + at);
        assertArrayEquals(want.sourceToken(), Host.ints(d.handle().sourceToken()), "sourceToken " + at);
    }

    @Test
    void viewsExpireWhenTheDispatchAfterNextRefillsTheirSlot() {
        Host.run(R, spec(), (r, buf) -> {
            Dispatched d0 = fresh(buf, 0, r);
            Tensor x0 = d0.x();
            assertTrue(x0.isRecycledView());
            Dispatched d1 = fresh(buf, 1, r);
            assertReceived(WANT[0][r], d0, "of call 0 after call 1, rank " + r);

            Dispatched d2 = fresh(buf, 2, r); // refills slot 0 (and grows it)
            for (Tensor t : new Tensor[] {x0, d0.x(), d0.topkIdx(), d0.topkWeights(), d0.handle().sourceToken()}) {
                assertExpired(t, 0, r);
            }
            // The rest of the result and its handle is owned: it stays, and combine still takes the handle.
            assertArrayEquals(WANT[0][r].sendRow(), Host.ints(d0.handle().sendRow()), "sendRow rank " + r);
            assertArrayEquals(WANT[0][r].sourceRankOffsets(), Host.ints(d0.handle().sourceRankOffsets()));
            assertArrayEquals(WANT[0][r].tokensPerExpert(), Host.ints(d0.tokensPerExpert()));
            assertArrayEquals(WANT[0][r].tokensPerExpert(), d0.tokensPerExpertList());
            try (Tensor y = Tensor.allocateHost(DType.BF16, d0.numRows(), H);
                    Combined c = buf.combine(CombineArgs.of(y, d0.handle()))) {
                assertArrayEquals(new short[CASES[0].tokens[r] * H], Host.shorts(c.x()), "zeros back, rank " + r);
            }
            assertReceived(WANT[1][r], d1, "of call 1 after call 2, rank " + r);
            assertReceived(WANT[2][r], d2, "of call 2, rank " + r);

            Dispatched d3 = fresh(buf, 3, r); // refills slot 1
            assertExpired(d1.x(), 1, r);
            assertExpired(d1.handle().sourceToken(), 1, r);
            assertReceived(WANT[2][r], d2, "of call 2 after call 3, rank " + r);
            assertReceived(WANT[3][r], d3, "of call 3, rank " + r);
            IllegalStateException e = assertThrows(IllegalStateException.class, d1::keep);
            assertTrue(e.getMessage().contains("normal receive slot 1 of rank " + r), e.getMessage());
            for (Dispatched d : List.of(d0, d1, d2, d3)) {
                d.close();
            }
            return null;
        });
    }

    @Test
    void keptRowsOutliveLaterDispatchesAndEqualWhatWasReceived() {
        Cases.Case c = CASES[4];
        Oracle.Fp8 mode = Oracle.Fp8.DEFAULT;
        int srb = Oracle.scaleRowBytes(H, mode);
        byte[][] q = new byte[R][];
        byte[][] s = new byte[R][];
        for (int r = 0; r < R; r++) {
            byte[][] qs = Oracle.quantize(c.x[r], c.tokens[r], H, mode);
            q[r] = qs[0];
            s[r] = qs[1];
        }
        Oracle.Dispatch[] want = Oracle.dispatch(c, q, H, s, srb, 1, 0);
        Oracle.Dispatch[] wantCached = WANT[4];
        Host.run(R, spec(), (r, buf) -> {
            Tensor idx = c.topkIdx(r);
            DispatchLayout layout = buf.layout(idx, E);
            Dispatched d = buf.dispatch(DispatchArgs.fp8(Tensor.ofBytes(q[r], DType.FP8_E4M3, c.tokens[r], H),
                    Tensor.ofBytes(s[r], DType.FLOAT32, c.tokens[r], srb / 4)).topk(idx, c.topkWeights(r)).layout(layout));
            assertSame(d, d.keep());
            assertSame(d, d.keep(), "a second keep() does nothing");
            Dispatched cached = buf.dispatch(DispatchArgs.of(c.x(r)).cached(d.handle())).keep();
            Tensor[] kept = {d.x(), d.scales(), d.topkIdx(), d.topkWeights(), d.handle().sourceToken(), cached.x()};
            for (Tensor t : kept) {
                assertFalse(t.isRecycledView(), t + " kept, rank " + r);
            }
            for (int i = 0; i < 4; i++) { // both slots refilled twice
                fresh(buf, i, r).close();
            }
            String at = "rank " + r;
            assertArrayEquals(want[r].x(), Host.bytes(d.x()), "x " + at);
            assertArrayEquals(want[r].scales(), Host.bytes(d.scales()), "scales " + at);
            assertArrayEquals(want[r].topkIdx(), Host.longs(d.topkIdx()), "topkIdx " + at);
            assertArrayEquals(want[r].topkWeights(), Host.floats(d.topkWeights()), "topkWeights " + at);
            assertArrayEquals(want[r].sourceToken(), Host.ints(d.handle().sourceToken()), "sourceToken " + at);
            assertArrayEquals(wantCached[r].x(), Host.bytes(cached.x()), "cached x " + at);
            cached.close();
            assertFalse(d.handle().isClosed(), "a cached result does not own the handle it reused");
            d.close();
            layout.close();
            return null;
        });
    }

    @Test
    void aCachedDispatchTakesTheNextSlotLikeAFreshOne() {
        Cases.Case c = CASES[1];
        short[][] x2 = new short[R][];
        byte[][] x2b = new byte[R][];
        for (int r = 0; r < R; r++) {
            x2[r] = Host.randomBf16(c.tokens[r] * H, 900 + r);
            x2b[r] = Oracle.bytes(x2[r]);
        }
        Oracle.Dispatch[] want2 = Oracle.dispatch(c, x2b, 2 * H, null, 0, 1, 0);
        Host.run(R, spec(), (r, buf) -> {
            Dispatched d = fresh(buf, 1, r); // slot 0
            Dispatched cached = buf.dispatch(DispatchArgs.of(Host.bf16(x2[r], c.tokens[r], H)).cached(d.handle())); // 1
            assertReceived(WANT[1][r], d, "after the cached dispatch, rank " + r);
            Dispatched next = fresh(buf, 2, r); // slot 0
            assertExpired(d.x(), 0, r);
            assertArrayEquals(want2[r].x(), Host.bytes(cached.x()), "cached x, rank " + r);
            // The routing of an expired dispatch is owned: a cached dispatch still takes it, into slot 1.
            Dispatched again = buf.dispatch(DispatchArgs.of(c.x(r)).cached(d.handle()));
            assertExpired(cached.x(), 1, r);
            assertArrayEquals(WANT[1][r].x(), Host.bytes(again.x()), "second cached x, rank " + r);
            assertReceived(WANT[2][r], next, "rank " + r);
            for (Dispatched x : List.of(again, next, cached, d)) {
                x.close();
            }
            return null;
        });
    }

    @Test
    void combineTakesAKeptDispatchAfterLaterDispatches() {
        Cases.Case c = CASES[3];
        Oracle.Dispatch[] want = WANT[3];
        short[][] y = new short[R][];
        float[][] w = new float[R][];
        for (int r = 0; r < R; r++) {
            y[r] = Oracle.shorts(want[r].x());
            w[r] = want[r].topkWeights();
        }
        Oracle.Combine[] wantC = Oracle.combine(c, want, y, w, null, null);
        List<Object[]> got = Host.run(R, spec(), (r, buf) -> {
            Dispatched kept = fresh(buf, 3, r).keep();
            Dispatched expired = fresh(buf, 0, r);
            fresh(buf, 1, r).close();
            fresh(buf, 2, r).close(); // refills the slot of `expired`
            // Every rank passes an expired view: each fails before its call is numbered, so the
            // ranks stay in step for the combine that follows.
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> buf.combine(CombineArgs.of(expired.x(), expired.handle())));
            assertTrue(e.getMessage().contains("normal receive slot 1 of rank " + r), e.getMessage());
            try (Combined cb = buf.combine(CombineArgs.of(kept.x(), kept.handle()).topkWeights(kept.topkWeights()))) {
                Object[] out = {Host.shorts(cb.x()), Host.floats(cb.topkWeights())};
                kept.close();
                expired.close();
                return out;
            }
        });
        for (int r = 0; r < R; r++) {
            assertArrayEquals(wantC[r].x(), (short[]) got.get(r)[0], "combined x, rank " + r);
            assertArrayEquals(wantC[r].topkWeights(), (float[]) got.get(r)[1], "combined weights, rank " + r);
        }
    }

    @Test
    void closingAKeptResultFreesItsCopies() {
        Host.run(R, spec(), (r, buf) -> {
            Dispatched d = fresh(buf, 2, r);
            Tensor view = d.x();
            d.keep();
            Tensor[] copies = {d.x(), d.topkIdx(), d.topkWeights(), d.handle().sourceToken()};
            Dispatched cached = buf.dispatch(DispatchArgs.of(CASES[2].x(r)).cached(d.handle())).keep();
            Tensor cachedCopy = cached.x();
            cached.close();
            assertTrue(cachedCopy.isClosed(), "rank " + r);
            for (Tensor t : copies) {
                assertFalse(t.isClosed(), t + ", rank " + r);
            }
            d.close();
            for (Tensor t : copies) {
                assertTrue(t.isClosed(), t + ", rank " + r);
                IllegalStateException e = assertThrows(IllegalStateException.class, t::toByteArray);
                assertTrue(e.getMessage().contains("was closed"), e.getMessage());
            }
            assertTrue(view.isClosed(), "the view is closed with its result, rank " + r);
            return null;
        });
    }

    /** A slot keeps its memory while the rows fit (no allocation in the steady state) and grows when they do not. */
    @Test
    void aSlotIsRefilledInPlaceWhileTheRowsFit() {
        Host.run(R, spec(), (r, buf) -> {
            Dispatched big = fresh(buf, 4, r); // slot 0, the largest case
            long bigAddress = big.x().address();
            fresh(buf, 4, r).close(); // slot 1
            Dispatched small = fresh(buf, 0, r); // slot 0 again, fewer rows
            assertEquals(bigAddress, small.x().address(), "rows that fit go where the slot's rows were, rank " + r);
            assertReceived(WANT[0][r], small, "rank " + r);
            fresh(buf, 1, r).close();
            small.close();
            big.close();
            return null;
        });
    }

    /** One rank, every token to expert 0: what a rank receives is its own tokens in order. */
    @Test
    void aDispatchCannotReadTheSlotItRefills() {
        int t = 4;
        Tensor idx = Tensor.ofLongs(new long[t], t, 1);
        Tensor x = Host.bf16(Host.randomBf16(t * H, 7), t, H);
        byte[] rows = Host.bytes(x);
        Host.run(1, BufferSpec.normal(H, t), (r, buf) -> {
            DispatchLayout layout = buf.layout(idx, 2);
            Dispatched d0 = buf.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout)); // slot 0
            Dispatched d1 = buf.dispatch(DispatchArgs.of(d0.x()).topk(idx, null).layout(layout)); // slot 1 reads slot 0
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> buf.dispatch(DispatchArgs.of(d0.x()).topk(idx, null).layout(layout)));
            assertEquals("x", e.argument(), e.getMessage());
            assertTrue(e.value().contains("normal receive slot 0 of rank 0"), e.getMessage());
            assertArrayEquals(rows, Host.bytes(d0.x()), "the rejected call changed nothing");
            Dispatched d2 = buf.dispatch(DispatchArgs.of(d1.x()).topk(idx, null).layout(layout)); // slot 0 reads slot 1
            assertArrayEquals(rows, Host.bytes(d2.x()));
            assertArrayEquals(rows, Host.bytes(d1.x()));
            assertExpired(d0.x(), 0, 0);
            return null;
        });
    }
}
