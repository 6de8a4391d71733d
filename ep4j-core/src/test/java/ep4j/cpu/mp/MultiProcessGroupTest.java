package ep4j.cpu.mp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
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
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyDispatchArgs;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import ep4j.oracle.Oracle;
import ep4j.rendezvous.LocalRendezvous;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Multi-process CPU groups whose processes are threads of this JVM (each opens its own group over
 * one {@link LocalRendezvous} job, so all traffic goes through /dev/shm files): results bit for
 * bit those of the single-JVM group, what a process sees of the group, and the failures a peer can
 * cause, each reported on every rank, in bounded time, with no file left behind.
 */
class MultiProcessGroupTest {
    private static final int H = 128;
    private static final Cases.Case C = Cases.options().ranks(3).experts(6).topk(2).tokens(4, 5, 3).hidden(H).seed(3)
            .generate();

    private static Dispatched dispatch(EpBuffer buf, int r) {
        Tensor idx = C.topkIdx(r);
        try (DispatchLayout layout = buf.layout(idx, C.experts)) {
            return buf.dispatch(DispatchArgs.of(C.x(r)).topk(idx, C.topkWeights(r)).layout(layout));
        }
    }

    private static void assertNoFiles(String jobId) {
        assertEquals(List.of(), Groups.files(jobId), "files of job " + jobId + " left under the shm directory");
    }

    @Test
    void resultsAreBitIdenticalToTheSingleJvmGroup() {
        BufferSpec spec = Scenario.spec(Duration.ofSeconds(20));
        List<Outputs> single = Groups.inOneJvm(Scenario.RANKS, spec, Scenario::run);
        Groups.Run<Outputs> mp = Groups.asProcesses(Scenario.RANKS, spec, Scenario::run);
        Oracle.Dispatch[] oracle = Oracle.dispatch(
                Cases.options().ranks(3).experts(12).hidden(256).topk(3).tokens(5, 0, 3).minusOne(0.2).seed(501)
                        .generate(), 2, 0);
        for (int r = 0; r < Scenario.RANKS; r++) {
            Outputs got = mp.rank(r).get();
            assertNull(single.get(r).difference(got), "rank " + r);
            assertTrue(got.bytes() > 10_000, got.bytes() + " bytes compared");
            // Both agree with the oracle too, not only with each other.
            assertArrayEquals(oracle[r].x(), got.parts().get("bf16.x"), "bf16.x of rank " + r + " against the oracle");
        }
        assertNoFiles(mp.jobId());
    }

    @Test
    void aProcessDrivesItsOwnRankOfTheWholeGroup() {
        LocalRendezvous.Job job = new LocalRendezvous.Job(2);
        Groups.Run<int[]> run = Groups.asProcesses(2, BufferSpec.normal(H, 8), (r, buf) -> {
            assertEquals(r, buf.rank());
            assertEquals(2, buf.ranks());
            return new int[] {r};
        });
        for (int r = 0; r < 2; r++) {
            assertArrayEquals(new int[] {r}, run.rank(r).get());
        }
        Groups.Run<Object> views = Groups.asProcesses(2, BufferSpec.normal(H, 8), (r, buf) -> null);
        assertNull(views.rank(0).failure());
        // What the group itself says, for rank 1 of 2 (its peer's group is opened alongside).
        Thread peer = Thread.ofPlatform().start(() -> {
            try (EpGroup g = EpGroup.open(Groups.processSpec(job, 2, 0)); EpBuffers b = g.allocate(BufferSpec.normal(H, 8))) {
                b.rank(0);
            }
        });
        try (EpGroup g = EpGroup.open(Groups.processSpec(job, 2, 1)); EpBuffers b = g.allocate(BufferSpec.normal(H, 8))) {
            assertEquals(2, g.size());
            assertArrayEquals(new int[] {1}, g.localRanks());
            assertEquals(List.of(1), g.onEachRank(r -> r));
            assertEquals(1, b.all().size());
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> b.rank(0));
            assertEquals("rank", e.argument());
            assertThrows(InvalidArgumentException.class, () -> g.allocate(0, DType.BF16, 1, H));
            g.allocate(1, DType.BF16, 1, H).close();
        }
        join(peer);
        assertNoFiles(job.rank(0).jobId());
    }

    @Test
    void aPeerThatNeverCallsIsATimeoutNamingIt() {
        BufferSpec spec = BufferSpec.normal(H, 8).timeout(Duration.ofMillis(300));
        CountDownLatch done = new CountDownLatch(2);
        Groups.Run<Object> run = Groups.asProcesses(3, spec, (r, buf) -> {
            if (r == 2) {
                done.await(10, java.util.concurrent.TimeUnit.SECONDS); // alive, its buffer open, never calling
                return null;
            }
            long start = System.nanoTime();
            EpTimeoutException e = assertThrows(EpTimeoutException.class, () -> dispatch(buf, r));
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertTrue(ms >= 250 && ms < 5000, "timed out after " + ms + " ms");
            assertEquals("dispatch", e.operation());
            assertEquals(r, e.rank());
            assertEquals(2, e.peer());
            assertTrue(e.getMessage().contains("peer 2 posted call #0, this rank waits for call #1"), e.getMessage());
            done.countDown();
            return null;
        });
        for (int r = 0; r < 3; r++) {
            run.rank(r).get();
        }
        assertNoFiles(run.jobId());
    }

    @Test
    void aCallThatFailedAfterPostingFailsThePeerWaitingForItAtOnce() {
        // Ranks 0 and 1 time out waiting for rank 2, which comes late: it finds them failed at once
        // (their failed call is marked) instead of waiting its own timeout for them to read its call.
        BufferSpec spec = BufferSpec.normal(H, 8).timeout(Duration.ofMillis(600));
        CountDownLatch lateDone = new CountDownLatch(1);
        Groups.Run<Long> run = Groups.asProcesses(3, spec, (r, buf) -> {
            if (r == 2) {
                Thread.sleep(1500); // well past the others' 600 ms timeout, even on a loaded machine
            }
            long start = System.nanoTime();
            EpException e;
            try {
                e = assertThrows(EpException.class, () -> dispatch(buf, r));
            } finally {
                if (r == 2) {
                    lateDone.countDown();
                }
            }
            if (r < 2) {
                assertInstanceOf(EpTimeoutException.class, e);
                lateDone.await(10, java.util.concurrent.TimeUnit.SECONDS); // stays, buffer open, until rank 2 is through
            } else {
                assertTrue(e.getMessage().contains("dispatch on rank 2 failed: peer 0 failed its call #1")
                        && e.getMessage().contains("timed out"), e.getMessage());
            }
            return (System.nanoTime() - start) / 1_000_000;
        });
        long late = run.rank(2).get();
        assertTrue(late < 400, "the late rank failed after " + late + " ms (its timeout is 600 ms)");
        assertNoFiles(run.jobId());
    }

    @Test
    void ranksThatMakeDifferentCallsAllReportTheMismatch() {
        Groups.Run<Throwable> run = Groups.asProcesses(3, BufferSpec.normal(H, 8).lowLatency(4, 6), (r, buf) -> {
            LowLatencyDispatchArgs args = LowLatencyDispatchArgs.of(Tensor.allocateHost(DType.BF16, 1, H),
                    Tensor.ofLongs(new long[] {0, 5}, 1, 2), 6);
            if (r == 1) {
                args.fp8();
            }
            return assertThrows(EpException.class, () -> buf.lowLatencyDispatch(args));
        });
        for (int r = 0; r < 3; r++) {
            String m = run.rank(r).get().getMessage();
            assertTrue(m.startsWith("collective mismatch on rank " + r + ": call #1 is lowLatencyDispatch("), m);
            assertTrue(m.contains(" here but lowLatencyDispatch("), m);
        }
        assertNoFiles(run.jobId());
    }

    @Test
    void ranksThatAllocateDifferentBuffersAllFailNamingBoth() {
        LocalRendezvous.Job job = new LocalRendezvous.Job(2);
        Throwable[] seen = new Throwable[2];
        Thread[] t = new Thread[2];
        for (int r = 0; r < 2; r++) {
            int rank = r;
            t[r] = Thread.ofPlatform().start(() -> {
                try (EpGroup g = EpGroup.open(Groups.processSpec(job, 2, rank))) {
                    g.allocate(BufferSpec.normal(rank == 0 ? H : 2 * H, 8).timeout(Duration.ofSeconds(5))).close();
                } catch (Throwable e) {
                    seen[rank] = e;
                }
            });
        }
        join(t[0]);
        join(t[1]);
        for (int r = 0; r < 2; r++) {
            assertInstanceOf(EpException.class, seen[r], "rank " + r);
            String m = seen[r].getMessage();
            assertTrue(m.startsWith("allocate on rank " + r + ": rank " + (1 - r) + " allocated buffer #0 with "), m);
            assertTrue(m.contains("hidden=128") && m.contains("hidden=256"), m);
        }
        assertNoFiles(job.rank(0).jobId());
    }

    @Test
    void anAbortInOneProcessFailsItsPeersAtOnce() {
        LocalRendezvous.Job job = new LocalRendezvous.Job(2);
        Throwable[] seen = new Throwable[1];
        long[] waited = new long[1];
        Thread peer = Thread.ofPlatform().start(() -> {
            try (EpGroup g = EpGroup.open(Groups.processSpec(job, 2, 1)); EpBuffers b = g.allocate(BufferSpec.normal(H, 8))) {
                long start = System.nanoTime();
                try {
                    dispatch(b.rank(1), 1);
                } catch (Throwable e) {
                    seen[0] = e;
                }
                waited[0] = (System.nanoTime() - start) / 1_000_000;
            }
        });
        try (EpGroup g = EpGroup.open(Groups.processSpec(job, 2, 0)); EpBuffers b = g.allocate(BufferSpec.normal(H, 8))) {
            sleep(200);
            g.abort(new IllegalStateException("rank 0 gave up"));
            EpException e = assertThrows(EpException.class, () -> dispatch(b.rank(0), 0));
            assertTrue(e.getMessage().contains("aborted") && e.getMessage().contains("rank 0 gave up"), e.getMessage());
        }
        join(peer);
        assertInstanceOf(EpException.class, seen[0]);
        assertTrue(seen[0].getMessage().contains("dispatch on rank 1 aborted: rank 0 aborted its group")
                && seen[0].getMessage().contains("rank 0 gave up"), seen[0].getMessage());
        assertTrue(waited[0] < 5000, "waited " + waited[0] + " ms (the timeout is 30 s)");
        assertNoFiles(job.rank(0).jobId());
    }

    @Test
    void aCombineAfterEveryKindOfCallStillMatches() {
        // Growing the send region between calls (a bigger dispatch after a small one) keeps peers in step.
        Cases.Case small = Cases.options().ranks(2).experts(4).topk(2).tokens(1, 2).hidden(H).seed(11).generate();
        Cases.Case big = Cases.options().ranks(2).experts(4).topk(2).tokens(60, 64).hidden(H).seed(12).generate();
        BufferSpec spec = BufferSpec.normal(H, 64);
        Groups.Body<short[]> body = (r, buf) -> {
            short[] last = null;
            for (Cases.Case c : new Cases.Case[] {small, big, small, big}) {
                Tensor idx = c.topkIdx(r);
                try (DispatchLayout layout = buf.layout(idx, c.experts);
                        Dispatched d = buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(layout));
                        var cb = buf.combine(CombineArgs.of(d.x(), d.handle()))) {
                    last = cb.x().segment().toArray(java.lang.foreign.ValueLayout.JAVA_SHORT);
                }
            }
            return last;
        };
        List<short[]> single = Groups.inOneJvm(2, spec, body);
        Groups.Run<short[]> mp = Groups.asProcesses(2, spec, body);
        for (int r = 0; r < 2; r++) {
            assertArrayEquals(single.get(r), mp.rank(r).get(), "rank " + r);
        }
        assertNoFiles(mp.jobId());
    }

    @Test
    void aRankThatClosesRightAfterItsCallsStillServesALateReader() {
        // Rank 0 receives its low-latency combine and closes its buffer at once; rank 1 receives its
        // own half later. Peers map a region when they first read it, so rank 0's close must wait
        // until rank 1 has read its combine input (its file would be gone otherwise).
        Cases.Case ll = Cases.options().ranks(2).experts(4).topk(2).tokens(3, 4).hidden(H).seed(21).generate();
        BufferSpec spec = BufferSpec.normal(H, 8).lowLatency(4, 4).timeout(Duration.ofSeconds(20));
        Groups.Body<short[]> body = (r, buf) -> {
            Tensor idx = ll.topkIdx(r);
            var d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(ll.x(r), idx, 4));
            Tensor y = Tensor.allocateHost(DType.BF16, 2, 2 * 4, H);
            short[] values = Scenario.randomBf16(2L * 2 * 4 * H, 90 + r);
            java.lang.foreign.MemorySegment.copy(values, 0, y.segment(),
                    java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0, values.length);
            try (var c = buf.lowLatencyCombine(ep4j.LowLatencyCombineArgs.of(y, idx, ll.topkWeights(r), d.handle())
                    .returnRecvHook(true))) {
                if (r == 1) {
                    sleep(400);
                }
                c.hook().receive();
                return c.x().segment().toArray(java.lang.foreign.ValueLayout.JAVA_SHORT);
            }
        };
        List<short[]> single = Groups.inOneJvm(2, spec, body);
        Groups.Run<short[]> mp = Groups.asProcesses(2, spec, body);
        for (int r = 0; r < 2; r++) {
            assertArrayEquals(single.get(r), mp.rank(r).get(), "rank " + r);
        }
        assertTrue(mp.rank(0).millis() >= 300, "rank 0's close waited for rank 1's read: " + mp.rank(0).millis() + " ms");
        assertNoFiles(mp.jobId());
    }

    static void join(Thread t) {
        try {
            t.join(Groups.BOUND_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        assertTrue(!t.isAlive(), t.getName() + " hangs");
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
