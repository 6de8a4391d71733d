package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpException;
import ep4j.EpGroup;
import ep4j.EpTimeoutException;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * DESIGN 5 on the device control plane: a call that fails on one rank poisons its signals, so
 * every rank waiting on it fails at once naming that rank (and returns no stale rows); the
 * buffer stays usable after a content error; a peer that never comes ends in a timeout naming
 * it; an aborted group ends every device wait at once.
 */
@Tag("gpu")
class FailureGpuTest {
    private static final int EXPERTS = 8;
    private static final int HIDDEN = 512;

    private static BufferSpec spec(Duration timeout) {
        return BufferSpec.normal(HIDDEN, 1).lowLatency(16, EXPERTS).maxTopk(2).timeout(timeout);
    }

    @Test
    void aBadExpertOnOneRankFailsEveryRankNamingItAndTheNextCallWorks() {
        Cases.Case c = Cases.options().ranks(2).experts(EXPERTS).hidden(HIDDEN).topk(2).tokens(5).seed(9).generate();
        try (EpGroup g = GpuRequired.group(2); EpBuffers b = g.allocate(spec(Duration.ofSeconds(10)))) {
            List<RuntimeException> failures = g.onEachRank(rank -> {
                EpBuffer buf = b.rank(rank);
                long[] idx = c.topkIdx(rank).toLongArray();
                if (rank == 0) {
                    idx[3] = EXPERTS + 5; // token 1, slot 1
                }
                try (Tensor x = g.upload(rank, c.x(rank)); Tensor bad = g.upload(rank, Tensor.ofLongs(idx, 5, 2));
                        Tensor good = g.upload(rank, c.topkIdx(rank))) {
                    RuntimeException e = assertThrows(RuntimeException.class,
                            () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, bad, EXPERTS)));
                    // The same buffer carries on: the failed call completed its protocol, poisoned.
                    try (LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, good, EXPERTS));
                            Tensor counts = g.download(d.recvCount())) {
                        assertEquals(EXPERTS / 2, counts.toIntArray().length);
                    }
                    return e;
                }
            });
            InvalidArgumentException own = assertInstanceOf(InvalidArgumentException.class, failures.get(0));
            assertEquals("topkIdx[1][1]", own.argument());
            assertEquals(String.valueOf(EXPERTS + 5), own.value());
            EpException peer = assertInstanceOf(EpException.class, failures.get(1));
            assertTrue(peer.getMessage().contains("because rank 0 failed"), peer.getMessage());
        }
    }

    @Test
    void aPeerThatNeverCallsIsATimeoutNamingItAndTheBufferRefusesMoreWork() {
        Cases.Case c = Cases.options().ranks(2).experts(EXPERTS).hidden(HIDDEN).topk(2).tokens(5).seed(10).generate();
        try (EpGroup g = GpuRequired.group(2); EpBuffers b = g.allocate(spec(Duration.ofMillis(500)))) {
            EpBuffer buf = b.rank(0);
            try (Tensor x = g.upload(0, c.x(0)); Tensor idx = g.upload(0, c.topkIdx(0))) {
                long t0 = System.nanoTime();
                EpTimeoutException e = assertThrows(EpTimeoutException.class,
                        () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, EXPERTS)));
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertEquals("lowLatencyDispatch", e.operation());
                assertEquals(0, e.rank());
                assertEquals(1, e.peer());
                assertTrue(ms < 3000, "took " + ms + " ms");
                assertThrows(IllegalStateException.class,
                        () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, EXPERTS)));
            }
        }
    }

    @Test
    void abortEndsADeviceWaitAtOnce() throws Exception {
        Cases.Case c = Cases.options().ranks(2).experts(EXPERTS).hidden(HIDDEN).topk(2).tokens(5).seed(11).generate();
        try (EpGroup g = GpuRequired.group(2); EpBuffers b = g.allocate(spec(Duration.ofSeconds(60)))) {
            EpBuffer buf = b.rank(0);
            try (Tensor x = g.upload(0, c.x(0)); Tensor idx = g.upload(0, c.topkIdx(0))) {
                Thread aborter = Thread.ofPlatform().start(() -> {
                    try {
                        Thread.sleep(300);
                    } catch (InterruptedException ignored) {
                        return;
                    }
                    g.abort(new EpException("stop, for the test"));
                });
                long t0 = System.nanoTime();
                EpException e = assertThrows(EpException.class,
                        () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, EXPERTS)));
                long ms = (System.nanoTime() - t0) / 1_000_000;
                aborter.join();
                assertTrue(e.getMessage().contains("aborted"), e.getMessage());
                assertTrue(ms < 5000, "took " + ms + " ms with a 60 s timeout");
            }
        }
    }

    @Test
    void rowsOfAFailedCallAreNeverReturned() {
        // The failed call throws: it hands out no result, so no view of its (partial) rows exists.
        Cases.Case c = Cases.options().ranks(1).experts(4).hidden(HIDDEN).topk(2).tokens(3).seed(12).generate();
        try (EpGroup g = GpuRequired.group(1);
                EpBuffers b = g.allocate(BufferSpec.normal(HIDDEN, 1).lowLatency(8, 4).maxTopk(2)
                        .timeout(Duration.ofSeconds(5)))) {
            EpBuffer buf = b.rank(0);
            try (Tensor x = g.upload(0, c.x(0)); Tensor bad = g.upload(0, Tensor.ofLongs(new long[] {0, 1, 2, 9, -1, 3}, 3, 2));
                    Tensor good = g.upload(0, Tensor.ofLongs(new long[] {0, 1, 2, 3, -1, 3}, 3, 2))) {
                assertThrows(InvalidArgumentException.class, () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, bad, 4)));
                try (LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, good, 4));
                        Tensor counts = g.download(d.recvCount())) {
                    assertArrayEquals(new int[] {1, 1, 1, 2}, counts.toIntArray());
                }
            }
        }
    }
}
