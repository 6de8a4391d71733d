package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.EpEvent;
import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.KernelTiming;
import ep4j.RecvHook;
import ep4j.cli.term.ProgressBar;
import java.io.PrintWriter;
import java.io.Writer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The timing protocol of {@link CaseTimer} on two CPU ranks, with a scripted device clock where
 * GPU spans are concerned: what each rank calls in which order, that every span covers exactly
 * the calls it should, and how the ranks' spans become the reported figures.
 */
class CaseTimerTest {
    static final int WARMUP = 1;
    static final int ITERS = 3;
    static final int CALLS = 2;
    static final int SPANS = 2;

    EpGroup group;
    ProgressBar bar;

    @BeforeEach
    void open() {
        group = EpGroup.open(GroupSpec.ranks(2).backend("cpu"));
        bar = new ProgressBar(new PrintWriter(Writer.nullWriter()), false);
        bar.start(Long.MAX_VALUE);
    }

    @AfterEach
    void close() {
        group.close();
    }

    CaseTimer timer(int calls, int spans) {
        Bench.Settings s = new Bench.Settings(8, 128, 2, 4, 0, ITERS, WARMUP, 4, new int[0], new int[0], 1, calls, spans);
        return new CaseTimer(group, BenchRanks.threads(2), new HostCopyBaseline(), bar, s);
    }

    /** A device clock whose spans take scripted times; it logs its events and refuses unpaired ones. */
    static final class ScriptedTiming implements KernelTiming {
        final List<String> log;
        final double[] script;
        int next;
        boolean open;

        ScriptedTiming(List<String> log, double... script) {
            this.log = log;
            this.script = script;
        }

        @Override
        public void enable() {
            log.add("enable");
        }

        @Override
        public void disable() {
            log.add("disable");
        }

        @Override
        public boolean isEnabled() {
            return true;
        }

        @Override
        public double lastMicros(Stage stage) {
            return Double.NaN;
        }

        @Override
        public double lastCallMicros() {
            return Double.NaN;
        }

        @Override
        public void startSpan() {
            if (open) {
                throw new IllegalStateException("span started twice");
            }
            open = true;
            log.add("start");
        }

        @Override
        public double endSpanMicros() {
            if (!open) {
                throw new IllegalStateException("span ended without a start");
            }
            open = false;
            log.add("end");
            return script[next++ % script.length];
        }
    }

    /** Logs every step of the protocol; its events count their awaits. */
    static class LoggingRep implements CaseTimer.Rep {
        final List<String> log;
        final AtomicInteger awaits;

        LoggingRep(List<String> log, AtomicInteger awaits) {
            this.log = log;
            this.awaits = awaits;
        }

        EpEvent event() {
            return new EpEvent() {
                @Override
                public void await() {
                    awaits.incrementAndGet();
                }

                @Override
                public boolean isComplete() {
                    return true;
                }
            };
        }

        @Override
        public void prepare(int it) {
            log.add("prepare");
        }

        @Override
        public void call(int it) {
            log.add("call");
        }

        @Override
        public void finish(int it) {
            log.add("finish");
        }

        @Override
        public void beforeSpan() {
            log.add("beforeSpan");
        }

        @Override
        public EpEvent callAsync() {
            log.add("async");
            return event();
        }

        @Override
        public RecvHook send(int it) {
            log.add("send");
            return () -> {
                log.add("receive");
                return event();
            };
        }

        @Override
        public void received(int it) {
            log.add("received");
        }
    }

    static List<String> times(int n, String... steps) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.addAll(List.of(steps));
        }
        return out;
    }

    @Test
    void withADeviceClockEverySpanCoversExactlyItsCalls() {
        List<List<String>> logs = List.of(Collections.synchronizedList(new ArrayList<>()),
                Collections.synchronizedList(new ArrayList<>()));
        AtomicInteger awaits = new AtomicInteger();
        // Rank 0's spans all take 1 us; rank 1's: two pipelined spans, then send/receive pairs.
        KernelTiming[] timings = {new ScriptedTiming(logs.get(0), 1),
            new ScriptedTiming(logs.get(1), 300_000, 500_000, 7, 70, 9, 90, 8, 80)};
        CaseTimer t = timer(CALLS, SPANS);
        long before = bar.done();
        BenchResult r = t.measure(BenchCase.LL_DISPATCH_BF16, 4, 128, new long[][] {{1, 2}, {3, 4}}, false, true,
                rank -> timings[rank], rank -> new LoggingRep(logs.get(rank), awaits));
        assertEquals(t.steps(false, true), bar.done() - before, "progress steps as announced");

        List<String> expected = new ArrayList<>();
        // Per-kernel events only in the warm-up calls: the timed calls cost what a user's do.
        expected.add("enable");
        expected.addAll(times(WARMUP, "prepare", "call", "finish"));
        expected.add("disable");
        expected.addAll(times(ITERS, "prepare", "call", "finish"));
        expected.addAll(times(SPANS, "beforeSpan", "start", "async", "async", "end"));
        expected.addAll(times(WARMUP + ITERS, "prepare", "send", "receive", "received"));
        expected.addAll(times(ITERS, "prepare", "start", "send", "end", "start", "receive", "end", "received"));
        assertEquals(expected, logs.get(0));
        assertEquals(expected, logs.get(1));
        // Each rank awaits every pipelined call's event (the last twice) and every receive's.
        assertEquals(2 * (SPANS * (CALLS + 1) + WARMUP + 2 * ITERS), awaits.get());

        assertEquals(ITERS, r.samplesNanos().length);
        PipelinedTimes p = r.pipelined();
        assertNotNull(p);
        assertEquals(CALLS, p.calls());
        assertEquals(SPANS, p.spans());
        assertEquals((300_000 + 500_000) / 2.0 / CALLS, p.gpuMicros(), 1e-9, "slowest rank per span, median, per call");
        assertTrue(p.wallMicros() > 0, p.toString());
        // The scripted spans are long (0.2 s per call), so no pause of a loaded machine makes issuing look host-bound.
        assertTrue(p.issueMicros() >= 0, p.toString());
        assertFalse(p.hostBound(), p.toString());
        assertNull(BenchReport.hostBoundNote(List.of(r)));
        assertEquals(r.timeMicros() - p.gpuMicros(), r.hostMicros(), 1e-9);
        HookTimes h = r.hook();
        assertNotNull(h);
        assertEquals(8, h.sendGpuMicros(), 1e-9);
        assertEquals(80, h.receiveGpuMicros(), 1e-9);
        assertEquals(ITERS, h.sendWall().samples());
        assertEquals(ITERS, h.receiveWall().samples());
        assertTrue(h.sendWall().median() > 0 && h.receiveWall().median() > 0, h.toString());
    }

    @Test
    void withoutADeviceClockTheAsyncPathRunsAndNoGpuTimeIsMade() {
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        CaseTimer t = timer(CALLS, 1);
        BenchResult r = t.measure(BenchCase.DISPATCH_BF16, 4, 128, new long[][] {{1, 2}, {3, 4}}, false, false,
                rank -> null, rank -> new LoggingRep(rank == 0 ? log : new ArrayList<>(), new AtomicInteger()));
        List<String> expected = new ArrayList<>(times(WARMUP + ITERS, "prepare", "call", "finish"));
        expected.addAll(List.of("beforeSpan", "async", "async"));
        assertEquals(expected, log);
        assertTrue(Double.isNaN(r.pipelinedGpuMicros()));
        assertTrue(Double.isNaN(r.hostMicros()));
        assertTrue(r.pipelined().wallMicros() > 0);
        assertNull(r.hook());

        BenchResult none = timer(0, 0).measure(BenchCase.DISPATCH_BF16, 4, 128, new long[][] {{1, 2}, {3, 4}}, false,
                false, rank -> null, rank -> new LoggingRep(new ArrayList<>(), new AtomicInteger()));
        assertNull(none.pipelined());
    }

    @Test
    void aPipelineWhoseCallsTakeTheHostLongerThanTheGpuIsMarkedHostBound() {
        List<String> log = new ArrayList<>();
        // Spans of 100 us of device time for 2 calls that each take the host 2 ms to issue.
        BenchResult r = timer(CALLS, SPANS).measure(BenchCase.DISPATCH_BF16, 4, 128, new long[][] {{1, 2}, {3, 4}},
                false, false, rank -> new ScriptedTiming(new ArrayList<>(), 100),
                rank -> new LoggingRep(rank == 0 ? log : new ArrayList<>(), new AtomicInteger()) {
                    @Override
                    public EpEvent callAsync() {
                        try {
                            Thread.sleep(2);
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                        return super.callAsync();
                    }
                });
        PipelinedTimes p = r.pipelined();
        assertEquals(50, p.gpuMicros(), 1e-9);
        assertTrue(p.issueMicros() >= 2000, p.toString());
        assertTrue(p.hostBound(), p.toString());
        String note = BenchReport.hostBoundNote(List.of(r));
        assertNotNull(note);
        assertTrue(note.startsWith("host-bound pipelines: dispatch bf16 (issue "), note);
        assertTrue(note.contains(" us, gpu 50.0 us)"), note);
        assertFalse(new PipelinedTimes(1, 1, Double.NaN, 5, 5).hostBound(), "no GPU time: not host-bound");
    }

    @Test
    void aRankFailingInASpanFailsTheCaseWithItsOwnErrorAtOnce() {
        CaseTimer t = timer(CALLS, SPANS);
        IllegalStateException e = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> assertThrows(
                IllegalStateException.class, () -> t.measure(BenchCase.COMBINE_BF16, 4, 128,
                        new long[][] {{1, 2}, {3, 4}}, false, true, rank -> null,
                        rank -> new LoggingRep(new ArrayList<>(), new AtomicInteger()) {
                            @Override
                            public EpEvent callAsync() {
                                if (rank == 1) {
                                    throw new IllegalStateException("async call failed on rank 1");
                                }
                                return super.callAsync();
                            }
                        })));
        assertEquals("async call failed on rank 1", e.getMessage());
    }

    @Test
    void slowestRankMedianTakesTheWorstRankOfEachRowThenTheMedian() {
        double[][] v = {{100, 100}, {1, 5}, {4, 2}, {3, 3}, {9, 1}};
        assertEquals(4.5, CaseTimer.slowestRankMedian(v, 1), 1e-12, "rows 1..4: 5, 4, 3, 9 -> (4 + 5) / 2");
        assertEquals(4, CaseTimer.slowestRankMedian(v, 2), 1e-12, "rows 2..4: 4, 3, 9 -> 4");
        assertTrue(Double.isNaN(CaseTimer.slowestRankMedian(new double[][] {{Double.NaN, Double.NaN}}, 0)));
        assertTrue(Double.isNaN(CaseTimer.slowestRankMedian(v, 5)), "no rows");
    }
}
