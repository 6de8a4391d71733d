package ep4j.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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
import ep4j.EpException;
import ep4j.EpGroup;
import ep4j.EpTimeoutException;
import ep4j.LowLatencyDispatchArgs;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** A peer that does not come, an aborted group, and ranks that make different calls: errors, never hangs. */
class FailureTest {
    private static final int H = 128;
    private static final Cases.Case C = Cases.options().ranks(3).experts(6).topk(2).tokens(4).hidden(H).seed(3)
            .generate();

    private static Dispatched dispatch(EpBuffer buf, int r) {
        Tensor idx = C.topkIdx(r);
        DispatchLayout layout = buf.layout(idx, C.experts);
        return buf.dispatch(DispatchArgs.of(C.x(r)).topk(idx, C.topkWeights(r)).layout(layout));
    }

    @Test
    void aPeerThatNeverCallsMakesTheOthersTimeOut() {
        BufferSpec spec = BufferSpec.normal(H, 8).timeout(Duration.ofMillis(300));
        List<Object> got = Host.run(3, spec, (r, buf) -> {
            if (r == 2) {
                return null;
            }
            long start = System.nanoTime();
            EpTimeoutException e = assertThrows(EpTimeoutException.class, () -> dispatch(buf, r));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(ms >= 250 && ms < 5000, "timed out after " + ms + " ms");
            assertEquals("dispatch", e.operation());
            assertEquals(r, e.rank());
            assertEquals(2, e.peer());
            assertTrue(e.getMessage().contains("rank " + r) && e.getMessage().contains("peer 2")
                    && e.getMessage().contains("300 ms") && e.getMessage().contains("call #1"), e.getMessage());
            return e;
        });
        assertNotNull(got.get(0));
        assertNotNull(got.get(1));
    }

    @Test
    void lowLatencyReceiveTimesOutToo() {
        BufferSpec spec = BufferSpec.normal(H, 8).lowLatency(8, 6).timeout(Duration.ofMillis(300));
        Host.run(3, spec, (r, buf) -> {
            if (r == 1) {
                return null;
            }
            var d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(C.x(r), C.topkIdx(r), 6).returnRecvHook(true));
            EpTimeoutException e = assertThrows(EpTimeoutException.class, () -> d.hook().receive());
            assertEquals("lowLatencyDispatch", e.operation());
            assertEquals(1, e.peer());
            assertThrows(IllegalStateException.class, d::x);
            return null;
        });
    }

    @Test
    void abortFailsWaitingRanksAtOnce() {
        AtomicReference<Throwable> waiter = new AtomicReference<>();
        AtomicReference<Long> waited = new AtomicReference<>();
        try (EpGroup g = EpGroup.cpu(2); EpBuffers bufs = g.allocate(BufferSpec.normal(H, 8))) {
            RuntimeException boom = new IllegalStateException("rank 1 blew up");
            RuntimeException thrown = assertThrows(RuntimeException.class, () -> g.onEachRank(r -> {
                if (r == 1) {
                    Thread.sleep(200);
                    throw boom;
                }
                long start = System.nanoTime();
                try {
                    dispatch(bufs.rank(0), 0);
                } catch (Throwable t) {
                    waiter.set(t);
                    waited.set((System.nanoTime() - start) / 1_000_000);
                }
                return null;
            }));
            assertEquals(boom, thrown);
            EpException e = assertInstanceOf(EpException.class, waiter.get());
            assertTrue(e.getMessage().contains("rank 1 blew up"), e.getMessage());
            assertTrue(waited.get() < 5000, "waited " + waited.get() + " ms (timeout is 30 s)");
            // The abort is final: later collectives fail at once too.
            List<Throwable> later = g.onEachRank(r -> {
                try {
                    dispatch(bufs.rank(r), r);
                    return null;
                } catch (EpException ex) {
                    return ex;
                }
            });
            assertInstanceOf(EpException.class, later.get(0));
        }
    }

    @Test
    void differentCallsOnDifferentRanksAreAMismatch() {
        List<Throwable> got = Host.run(2, BufferSpec.normal(H, 8), (r, buf) -> {
            Tensor idx = Tensor.ofLongs(new long[] {0, 1, 2, 3, 1, 2, 0, 3}, 4, 2);
            Tensor x = Tensor.allocateHost(DType.BF16, 4, H);
            DispatchLayout layout = buf.layout(idx, 4);
            Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout));
            try {
                if (r == 0) {
                    buf.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout));
                } else {
                    buf.combine(CombineArgs.of(Tensor.allocateHost(DType.BF16, d.numRows(), H), d.handle()));
                }
                return null;
            } catch (EpException e) {
                return e;
            }
        });
        for (int r = 0; r < 2; r++) {
            Throwable e = got.get(r);
            assertInstanceOf(EpException.class, e, "rank " + r);
            assertTrue(e.getMessage().contains("mismatch") && e.getMessage().contains("call #2"), e.getMessage());
        }
    }

    @Test
    void fp8HereAndBf16ThereIsAMismatch() {
        int h = 128;
        List<Throwable> got = Host.run(2, BufferSpec.normal(h, 8).lowLatency(4, 4), (r, buf) -> {
            Tensor idx = Tensor.ofLongs(new long[] {0, 3}, 1, 2);
            Tensor x = Tensor.allocateHost(DType.BF16, 1, h);
            LowLatencyDispatchArgs args = LowLatencyDispatchArgs.of(x, idx, 4);
            if (r == 0) {
                args.fp8();
            }
            try {
                buf.lowLatencyDispatch(args);
                return null;
            } catch (EpException e) {
                return e;
            }
        });
        for (Throwable e : got) {
            assertNotNull(e);
            assertTrue(e.getMessage().contains("mismatch"), e.getMessage());
        }
    }

    @Test
    void closingAPeerBufferFailsTheWaitersFast() {
        try (EpGroup g = EpGroup.cpu(2); EpBuffers bufs = g.allocate(BufferSpec.normal(H, 8))) {
            List<Throwable> got = g.onEachRank(r -> {
                if (r == 1) {
                    Thread.sleep(100);
                    bufs.rank(1).close();
                    return null;
                }
                long start = System.nanoTime();
                EpException e = assertThrows(EpException.class, () -> dispatch(bufs.rank(0), 0));
                assertTrue((System.nanoTime() - start) / 1_000_000 < 5000);
                return e;
            });
            assertTrue(got.get(0).getMessage().contains("peer 1"), got.get(0).getMessage());
            assertNull(got.get(1));
        }
    }
}
