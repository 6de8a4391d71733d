package ep4j.cli.bench;

import ep4j.EpEvent;
import ep4j.EpGroup;
import ep4j.KernelTiming;
import ep4j.RecvHook;
import ep4j.cli.term.ProgressBar;
import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * Times one case at one size on every rank, all ranks calling together (the calls are
 * collective), in up to three ways, one after the other on the same rank threads:
 * <ol>
 *   <li><b>synchronous</b>: {@code warmup + iters} calls, each between the barriers of a
 *       {@link RankClock} (the wall clock of the call); where the backend has a device clock, the
 *       warm-up calls also record the device time of their kernels (per-kernel events cost host
 *       time, so the timed calls run without them, as a user's calls do); with a baseline, each
 *       call is preceded by one baseline repetition moving the same bytes;</li>
 *   <li><b>pipelined</b>: {@code spans} spans of {@code calls} asynchronous calls in a row, with
 *       no host wait between them, device events around each span ({@link KernelTiming#startSpan}),
 *       divided by the calls ({@link PipelinedTimes});</li>
 *   <li><b>hook mode</b> (low-latency cases): the sending call and {@code hook().receive()} timed
 *       apart, first their wall clocks ({@code warmup + iters} times), then, where there is a
 *       device clock, the device span of each half alone ({@code iters} times; {@link HookTimes}).</li>
 * </ol>
 */
final class CaseTimer {
    /** What one rank repeats. Only {@link #call} is timed in the synchronous run. */
    interface Rep extends AutoCloseable {
        /** Before repetition {@code it} of the synchronous run and of the hook run (untimed). */
        default void prepare(int it) throws Exception {
        }

        /** One synchronous call. */
        void call(int it) throws Exception;

        /** Device time of the last synchronous call's kernels; NaN where there is none. */
        default double gpuMicros() {
            return Double.NaN;
        }

        /** After repetition {@code it} of the synchronous run (untimed): checks, closing results. */
        default void finish(int it) throws Exception {
        }

        /** Before each pipelined span (untimed): what its calls need. */
        default void beforeSpan() throws Exception {
        }

        /**
         * One asynchronous call whose result is released at once (on a GPU, memory is reused in
         * stream order, so this is safe while the call runs).
         *
         * @return the call's completion
         */
        EpEvent callAsync() throws Exception;

        /** Hook mode: the sending call of repetition {@code it}, made after {@link #prepare}. */
        default RecvHook send(int it) throws Exception {
            throw new UnsupportedOperationException("this case has no hook mode");
        }

        /** Hook mode: after the receive of repetition {@code it} completed (untimed). */
        default void received(int it) throws Exception {
        }

        @Override
        default void close() throws Exception {
        }
    }

    @FunctionalInterface
    interface RepFactory {
        Rep open(int rank) throws Exception;
    }

    private final EpGroup group;
    private final BenchRanks meet;
    private final int ranks;
    private final Baseline baseline;
    private final ProgressBar bar;
    private final int warmup;
    private final int iters;
    private final int pipelinedCalls;
    private final int pipelinedSpans;

    CaseTimer(EpGroup group, BenchRanks meet, Baseline baseline, ProgressBar bar, Bench.Settings s) {
        this.group = group;
        this.meet = meet;
        this.ranks = group.size();
        this.baseline = baseline;
        this.bar = bar;
        this.warmup = s.warmup();
        this.iters = s.iters();
        this.pipelinedCalls = s.pipelinedCalls();
        this.pipelinedSpans = s.pipelinedSpans();
    }

    /** Progress steps {@link #measure} takes. */
    long steps(boolean withBaseline, boolean hook) {
        long reps = warmup + iters;
        return reps * (withBaseline ? 2 : 1) + (pipelinedCalls > 0 ? pipelinedSpans : 0) + (hook ? 2 * reps : 0);
    }

    /**
     * Times a case on every rank.
     *
     * @param rows         {@code rows[dst][src]}: rows the case moves, for its bytes and the baseline's
     * @param withBaseline interleave a baseline repetition before every synchronous call
     * @param hook         also time the hook mode
     * @param timings      each rank's device clock, or null where it has none (the CPU backend)
     */
    BenchResult measure(BenchCase c, int tokens, int hidden, long[][] rows, boolean withBaseline, boolean hook,
            IntFunction<KernelTiming> timings, RepFactory factory) {
        bar.label(c.label() + " T=" + tokens);
        int reps = warmup + iters;
        long rowBytes = c.rowBytes(hidden);
        long[][] bytes = new long[ranks][ranks];
        double total = 0;
        double cross = 0;
        for (int i = 0; i < ranks; i++) {
            for (int j = 0; j < ranks; j++) {
                bytes[i][j] = rows[i][j] * rowBytes;
                total += bytes[i][j];
                cross += i == j ? 0 : bytes[i][j];
            }
        }
        Runnable step = () -> bar.step(1);
        RankClock clock = new RankClock(meet, reps, step);
        RankClock baseClock = new RankClock(meet, reps, step);
        RankClock spanClock = new RankClock(meet, Math.max(1, pipelinedSpans), step);
        RankClock sendClock = new RankClock(meet, reps, step);
        RankClock receiveClock = new RankClock(meet, reps, step);
        double[][] gpu = new double[reps][ranks];
        double[][] spanGpu = new double[Math.max(1, pipelinedSpans)][ranks];
        double[][] spanIssue = new double[Math.max(1, pipelinedSpans)][ranks];
        double[][] sendGpu = new double[iters][ranks];
        double[][] receiveGpu = new double[iters][ranks];
        for (double[][] m : new double[][][] {spanGpu, sendGpu, receiveGpu}) {
            for (double[] row : m) {
                Arrays.fill(row, Double.NaN);
            }
        }
        Baseline.Copy copy = withBaseline ? baseline.prepare(group, bytes) : null;
        boolean copying = copy != null && copy.available();
        if (copy != null && !copying) {
            bar.step(reps);
        }
        try {
            RankRuns.run(group, r -> {
                if (copying) {
                    copy.setUp(r);
                }
                KernelTiming timing = timings.apply(r);
                try (Rep rep = factory.open(r)) {
                    clock.sync();
                    for (int it = 0; it < reps; it++) {
                        if (timing != null && it == 0) {
                            timing.enable();
                        }
                        if (timing != null && it == warmup) {
                            timing.disable();
                        }
                        if (copying) {
                            baseClock.start();
                            copy.run(r);
                            baseClock.stop();
                        }
                        rep.prepare(it);
                        clock.start();
                        rep.call(it);
                        clock.stop();
                        gpu[it][r] = rep.gpuMicros();
                        rep.finish(it);
                    }
                    if (pipelinedCalls > 0) {
                        pipelined(rep, r, timing, spanClock, spanGpu, spanIssue);
                    }
                    if (hook) {
                        hookWalls(rep, sendClock, receiveClock);
                        if (timing != null) {
                            hookSpans(rep, r, timing, clock, sendGpu, receiveGpu);
                        }
                    }
                }
                return null;
            }, clock::breakAll, baseClock::breakAll, spanClock::breakAll, sendClock::breakAll, receiveClock::breakAll);
        } finally {
            if (copy != null) {
                copy.close();
            }
        }
        // In a job each process measured its own rank: every rank's figures, for the slowest one.
        // (The wall clocks need nothing: every process timed the same barriers; rank 0 reports its own.)
        meet.pool(c.label() + " at " + tokens + " tokens", gpu, spanGpu, spanIssue, sendGpu, receiveGpu);
        PipelinedTimes pipelined = pipelinedCalls == 0 ? null : new PipelinedTimes(pipelinedCalls, pipelinedSpans,
                slowestRankMedian(spanGpu, 0), spanClock.medianSeconds(0) * 1e6 / pipelinedCalls,
                slowestRankMedian(spanIssue, 0));
        HookTimes hookTimes = !hook ? null : new HookTimes(Latency.of(sendClock.samples(warmup)),
                Latency.of(receiveClock.samples(warmup)), slowestRankMedian(sendGpu, 0),
                slowestRankMedian(receiveGpu, 0));
        BenchResult result = new BenchResult(c, ranks, tokens, hidden, clock.samples(warmup), total / ranks,
                cross / ranks, slowestRankMedian(gpu, warmup / 2, warmup), Double.NaN, Double.NaN, null, pipelined, hookTimes);
        if (copy == null) {
            return result;
        }
        return result.withBaseline(copying ? baseClock.medianSeconds(warmup) : Double.NaN,
                (baseline.crossOnly() ? cross : total) / ranks, baseline.name());
    }

    /**
     * The pipelined run on one rank: every span starts at a barrier, records a device event,
     * makes the calls back to back, and ends with a device event the host waits for.
     */
    private void pipelined(Rep rep, int r, KernelTiming timing, RankClock spanClock, double[][] spanGpu,
            double[][] spanIssue) throws Exception {
        EpEvent[] events = new EpEvent[pipelinedCalls];
        for (int s = 0; s < pipelinedSpans; s++) {
            rep.beforeSpan();
            spanClock.start();
            if (timing != null) {
                timing.startSpan();
            }
            long t0 = System.nanoTime();
            for (int i = 0; i < pipelinedCalls; i++) {
                events[i] = rep.callAsync();
            }
            spanIssue[s][r] = (System.nanoTime() - t0) / 1e3 / pipelinedCalls;
            double us = timing != null ? timing.endSpanMicros() : Double.NaN;
            events[pipelinedCalls - 1].await();
            spanClock.stop();
            for (EpEvent e : events) {
                e.await(); // raises what any call of the span found on the device
            }
            spanGpu[s][r] = us / pipelinedCalls;
        }
    }

    /** Hook mode, wall clocks: the sending call, then {@code receive()}, each between barriers. */
    private void hookWalls(Rep rep, RankClock sendClock, RankClock receiveClock) throws Exception {
        for (int it = 0; it < warmup + iters; it++) {
            rep.prepare(it);
            sendClock.start();
            RecvHook h = rep.send(it);
            sendClock.stop();
            receiveClock.start();
            EpEvent e = h.receive();
            receiveClock.stop();
            e.await();
            rep.received(it);
        }
    }

    /**
     * Hook mode, device time: a span around the sending call alone (from an event recorded just
     * before it, so its host path up to the launch counts), then, once every rank's send has
     * completed (the host waited for its span, then a barrier), a span around the receive half.
     */
    private void hookSpans(Rep rep, int r, KernelTiming timing, RankClock barrier, double[][] sendGpu,
            double[][] receiveGpu) throws Exception {
        for (int it = 0; it < iters; it++) {
            rep.prepare(warmup + it);
            barrier.sync();
            timing.startSpan();
            RecvHook h = rep.send(warmup + it);
            sendGpu[it][r] = timing.endSpanMicros();
            barrier.sync();
            timing.startSpan();
            EpEvent e = h.receive();
            receiveGpu[it][r] = timing.endSpanMicros();
            e.await();
            rep.received(warmup + it);
        }
    }

    /**
     * The median over rows (from {@code from} on) of the slowest rank's value; NaN when a row has
     * no value (no device clock).
     */
    static double slowestRankMedian(double[][] v, int from) {
        return slowestRankMedian(v, from, v.length);
    }

    /** The same over rows {@code [from, to)}. */
    static double slowestRankMedian(double[][] v, int from, int to) {
        int n = to - from;
        if (n <= 0) {
            return Double.NaN;
        }
        double[] perRow = new double[n];
        for (int i = 0; i < n; i++) {
            double worst = Double.NaN;
            for (double x : v[from + i]) {
                worst = Double.isNaN(worst) ? x : Math.max(worst, x);
            }
            perRow[i] = worst;
        }
        Arrays.sort(perRow);
        return n % 2 == 1 ? perRow[n / 2] : (perRow[n / 2 - 1] + perRow[n / 2]) / 2;
    }
}
