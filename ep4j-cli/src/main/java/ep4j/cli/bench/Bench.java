package ep4j.cli.bench;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.Config;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.KernelTiming;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.cli.term.ProgressBar;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;

/**
 * Runs the benchmark cases on a group: normal dispatch (bf16, fp8) and combine at every size of
 * the token sweep, low-latency dispatch (bf16, fp8) and combine at every low-latency size, and
 * the baseline at the table's sizes. Every sample is timed across the ranks by a
 * {@link RankClock}; baseline repetitions are interleaved with the case's (copy, call, copy,
 * call, ...) on the same rank threads.
 */
public final class Bench {
    /** What to run. Token lists are the sweep; {@code tokens} and {@code llTokens} are the table's sizes. */
    public record Settings(int tokens, int hidden, int topk, int experts, int sms, int iters, int warmup,
            int llTokens, int[] sweepTokens, int[] llSweepTokens, long seed) {

        int[] normalPoints() {
            return points(sweepTokens, tokens);
        }

        int[] llPoints() {
            return points(llSweepTokens, llTokens);
        }

        private static int[] points(int[] sweep, int main) {
            TreeSet<Integer> set = new TreeSet<>();
            for (int t : sweep) {
                set.add(t);
            }
            set.add(main);
            return set.stream().mapToInt(Integer::intValue).toArray();
        }

        Config config() {
            return sms > 0 ? Config.sms(sms) : Config.auto();
        }
    }

    /** The table rows (main sizes, with baseline) and every sample of the sweep (for the plot). */
    public record Outcome(List<BenchResult> table, List<BenchResult> sweep, List<String> notes) {
    }

    /** Where the backend has device kernels (GPUs), events around them give each call's device time. */
    private void timeKernels(EpBuffers buffers) {
        buffers.all().forEach(b -> b.kernelTiming().ifPresent(KernelTiming::enable));
    }

    /** The device time of the buffer's last call; NaN where there is none (the CPU backend). */
    static double lastCallMicros(EpBuffer buffer) {
        return buffer.kernelTiming().map(KernelTiming::lastCallMicros).orElse(Double.NaN);
    }

    /** What one rank repeats: {@link #call} is timed, the other steps are not. */
    private interface Rep extends AutoCloseable {
        default void prepare(int it) throws Exception {
        }

        void call(int it) throws Exception;

        /** GPU time of the last call (CUDA events; NaN where there are none). */
        default double gpuMicros() {
            return Double.NaN;
        }

        default void finish(int it) throws Exception {
        }

        @Override
        default void close() throws Exception {
        }
    }

    @FunctionalInterface
    private interface RepFactory {
        Rep open(int rank) throws Exception;
    }

    private final Settings s;
    private final EpGroup group;
    private final Baseline baseline;
    private final ProgressBar bar;
    private final int ranks;

    public Bench(Settings settings, EpGroup group, Baseline baseline, ProgressBar bar) {
        this.s = settings;
        this.group = group;
        this.baseline = baseline;
        this.bar = bar;
        this.ranks = group.size();
    }

    /** Progress steps {@link #run} takes. */
    public long totalSteps() {
        long reps = s.warmup() + s.iters();
        long steps = 0;
        for (int t : s.normalPoints()) {
            steps += 1 + 3 * reps * (t == s.tokens() ? 2 : 1);
        }
        for (int t : s.llPoints()) {
            steps += 1 + 3 * reps * (t == s.llTokens() ? 2 : 1);
        }
        return steps;
    }

    /**
     * Runs every size. Each normal size gets its own buffer, sized for it and closed after it, so
     * that memory a backend keeps for one size (result pools, staging) is given back before the
     * next; the low-latency sizes share one buffer of the largest low-latency capacity, as a
     * decoding server would.
     */
    public Outcome run() {
        int[] normal = s.normalPoints();
        int[] ll = s.llPoints();
        List<BenchResult> table = new ArrayList<>();
        List<BenchResult> sweep = new ArrayList<>();
        for (int t : normal) {
            try (EpBuffers buffers = group.allocate(BufferSpec.normal(s.hidden(), t).maxTopk(s.topk()))) {
                timeKernels(buffers);
                List<BenchResult> rs = normalPoint(buffers, t, t == s.tokens());
                sweep.addAll(rs);
                if (t == s.tokens()) {
                    table.addAll(rs);
                }
            }
        }
        BufferSpec llSpec = BufferSpec.normal(s.hidden(), 1).maxTopk(s.topk()).lowLatency(ll[ll.length - 1], s.experts());
        List<String> notes = new ArrayList<>();
        try (EpBuffers buffers = group.allocate(llSpec)) {
            timeKernels(buffers);
            for (int t : ll) {
                List<BenchResult> rs = lowLatencyPoint(buffers, t, t == s.llTokens());
                sweep.addAll(rs);
                if (t == s.llTokens()) {
                    table.addAll(rs);
                }
            }
        } catch (UnsupportedOperationException e) {
            // A backend without low-latency kernels yet: the normal cases still stand.
            notes.add("low-latency cases skipped: " + e.getMessage());
        } catch (RuntimeException e) {
            // Reported, not hidden: the normal cases measured above still stand.
            notes.add("low-latency cases FAILED: " + e);
        }
        return new Outcome(table, sweep, notes);
    }

    private List<BenchResult> normalPoint(EpBuffers buffers, int tokens, boolean withBaseline) {
        bar.label("generating T=" + tokens);
        List<BenchResult> out = new ArrayList<>();
        try (Workload w = Workload.generate(group, tokens, s.hidden(), s.topk(), s.experts(), s.seed(), true)) {
            bar.step(1);
            long[][] counts = w.tokenCounts();
            long[][] back = transpose(counts);
            DispatchLayout[] layouts = new DispatchLayout[ranks];
            try {
                group.onEachRank(r -> layouts[r] = buffers.rank(r).layout(w.idx[r], s.experts()));
                for (boolean fp8 : new boolean[] {false, true}) {
                    BenchCase c = fp8 ? BenchCase.DISPATCH_FP8 : BenchCase.DISPATCH_BF16;
                    out.add(measure(c, tokens, counts, withBaseline, r -> new Rep() {
                        final EpBuffer buf = buffers.rank(r);
                        Dispatched d;

                        @Override
                        public void call(int it) {
                            d = buf.dispatch(dispatchArgs(w, layouts, r, fp8));
                        }

                        @Override
                        public double gpuMicros() {
                            return lastCallMicros(buf);
                        }

                        @Override
                        public void finish(int it) {
                            try (Dispatched done = d) {
                                if (it == 0) {
                                    checkRows(c, r, done.numRows(), sum(counts[r]));
                                }
                            }
                        }
                    }));
                }
                // A rank's combine sends back the rows it received: dispatch's matrix, transposed.
                out.add(measure(BenchCase.COMBINE_BF16, tokens, back, withBaseline, r -> new Rep() {
                    final EpBuffer buf = buffers.rank(r);
                    final Dispatched d = checked(buf.dispatch(dispatchArgs(w, layouts, r, false)), r);
                    Combined c;

                    private Dispatched checked(Dispatched dd, int rank) {
                        checkRows(BenchCase.COMBINE_BF16, rank, dd.numRows(), sum(counts[rank]));
                        return dd;
                    }

                    @Override
                    public void call(int it) {
                        c = buf.combine(CombineArgs.of(d.x(), d.handle()).config(s.config()));
                    }

                    @Override
                    public double gpuMicros() {
                        return lastCallMicros(buf);
                    }

                    @Override
                    public void finish(int it) {
                        c.close();
                    }

                    @Override
                    public void close() {
                        d.close();
                    }
                }));
            } finally {
                for (DispatchLayout l : layouts) {
                    if (l != null) {
                        l.close();
                    }
                }
            }
        }
        return out;
    }

    private DispatchArgs dispatchArgs(Workload w, DispatchLayout[] layouts, int r, boolean fp8) {
        DispatchArgs a = fp8 ? DispatchArgs.fp8(w.xFp8[r], w.scales[r]) : DispatchArgs.of(w.x[r]);
        return a.topk(w.idx[r], w.weights[r]).layout(layouts[r]).config(s.config());
    }

    private List<BenchResult> lowLatencyPoint(EpBuffers buffers, int tokens, boolean withBaseline) {
        bar.label("generating T=" + tokens);
        List<BenchResult> out = new ArrayList<>();
        try (Workload w = Workload.generate(group, tokens, s.hidden(), s.topk(), s.experts(), s.seed() + 1, false)) {
            bar.step(1);
            long[][] pairs = w.pairCounts();
            for (boolean fp8 : new boolean[] {false, true}) {
                BenchCase c = fp8 ? BenchCase.LL_DISPATCH_FP8 : BenchCase.LL_DISPATCH_BF16;
                out.add(measure(c, tokens, pairs, withBaseline, r -> new Rep() {
                    final EpBuffer buf = buffers.rank(r);
                    LowLatencyDispatched d;

                    @Override
                    public void call(int it) {
                        d = buf.lowLatencyDispatch(llArgs(w, r, fp8));
                    }

                    @Override
                    public void finish(int it) {
                        if (it == 0) {
                            checkRows(c, r, receivedRows(d), sum(pairs[r]));
                        }
                    }
                }));
            }
            // The expert outputs are the received rows as they are: the dispatch's own receive
            // tensor is passed as y (no extra [L, R*N, H] copy per rank, which at 8 ranks and
            // H = 7168 would be 470 MB each). The backend then does its usual non-zero-copy work.
            out.add(measure(BenchCase.LL_COMBINE_BF16, tokens, transpose(pairs), withBaseline, r -> new Rep() {
                final EpBuffer buf = buffers.rank(r);
                LowLatencyDispatched d;
                LowLatencyCombined c;

                @Override
                public void prepare(int it) {
                    d = buf.lowLatencyDispatch(llArgs(w, r, false));
                    if (it == 0) {
                        checkRows(BenchCase.LL_COMBINE_BF16, r, receivedRows(d), sum(pairs[r]));
                    }
                }

                @Override
                public void call(int it) {
                    c = buf.lowLatencyCombine(LowLatencyCombineArgs.of(d.x(), w.idx[r], w.weights[r], d.handle()));
                }

                @Override
                public void finish(int it) {
                    c.close();
                }
            }));
        }
        return out;
    }

    private LowLatencyDispatchArgs llArgs(Workload w, int r, boolean fp8) {
        LowLatencyDispatchArgs a = LowLatencyDispatchArgs.of(w.x[r], w.idx[r], s.experts());
        return fp8 ? a.fp8() : a;
    }

    private long receivedRows(LowLatencyDispatched d) {
        try (Tensor counts = group.download(d.recvCount())) {
            return Arrays.stream(counts.toIntArray()).asLongStream().sum();
        }
    }

    /**
     * Times {@code warmup + iters} repetitions of a case on every rank; with a baseline, each is
     * preceded by one baseline repetition moving the same bytes ({@code rows[dst][src]} rows).
     */
    private BenchResult measure(BenchCase c, int tokens, long[][] rows, boolean withBaseline, RepFactory factory) {
        bar.label(c.label() + " T=" + tokens);
        int reps = s.warmup() + s.iters();
        long rowBytes = c.rowBytes(s.hidden());
        long[][] bytes = new long[ranks][ranks];
        double total = 0;
        for (int i = 0; i < ranks; i++) {
            for (int j = 0; j < ranks; j++) {
                bytes[i][j] = rows[i][j] * rowBytes;
                total += bytes[i][j];
            }
        }
        double cross = 0;
        for (int i = 0; i < ranks; i++) {
            for (int j = 0; j < ranks; j++) {
                cross += i == j ? 0 : bytes[i][j];
            }
        }
        double[][] gpu = new double[reps][ranks];
        RankClock clock = new RankClock(ranks, reps, () -> bar.step(1));
        RankClock baseClock = new RankClock(ranks, reps, () -> bar.step(1));
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
                try (Rep rep = factory.open(r)) {
                    clock.sync();
                    for (int it = 0; it < reps; it++) {
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
                }
                return null;
            }, clock, baseClock);
        } finally {
            if (copy != null) {
                copy.close();
            }
        }
        BenchResult result = new BenchResult(c, ranks, tokens, s.hidden(), clock.samples(s.warmup()), total / ranks,
                cross / ranks, slowestRankMedian(gpu), Double.NaN, Double.NaN, null);
        if (copy == null) {
            return result;
        }
        return result.withBaseline(copying ? baseClock.medianSeconds(s.warmup()) : Double.NaN,
                (baseline.crossOnly() ? cross : total) / ranks, baseline.name());
    }

    /** Median over the timed iterations of the slowest rank's GPU time (NaN when there is none). */
    private double slowestRankMedian(double[][] gpu) {
        double[] perIter = new double[s.iters()];
        for (int it = 0; it < s.iters(); it++) {
            double worst = Double.NaN;
            for (double v : gpu[s.warmup() + it]) {
                worst = Double.isNaN(worst) ? v : Math.max(worst, v);
            }
            perIter[it] = worst;
        }
        Arrays.sort(perIter);
        return perIter[perIter.length / 2];
    }

    private static void checkRows(BenchCase c, int rank, long got, long expected) {
        if (got != expected) {
            throw new IllegalStateException(c.label() + ": rank " + rank + " received " + got
                    + " rows, the routing sends it " + expected);
        }
    }

    static long[][] transpose(long[][] m) {
        long[][] t = new long[m.length][m.length];
        for (int i = 0; i < m.length; i++) {
            for (int j = 0; j < m.length; j++) {
                t[i][j] = m[j][i];
            }
        }
        return t;
    }

    private static long sum(long[] v) {
        long n = 0;
        for (long x : v) {
            n += x;
        }
        return n;
    }
}
