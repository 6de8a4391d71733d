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
import ep4j.EpEvent;
import ep4j.EpGraph;
import ep4j.EpGroup;
import ep4j.KernelTiming;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.RecvHook;
import ep4j.Tensor;
import ep4j.cli.term.ProgressBar;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.IntFunction;

/**
 * Runs the benchmark cases on a group: normal dispatch (bf16, fp8) and combine at every size of
 * the token sweep, low-latency dispatch (bf16, fp8) and combine at every low-latency size; each
 * case is timed by a {@link CaseTimer} (synchronous calls, pipelined spans, and for low latency
 * at the table's size the hook mode), with the baseline at the table's sizes.
 */
public final class Bench {
    /**
     * What to run. Token lists are the sweep; {@code tokens} and {@code llTokens} are the table's
     * sizes. {@code pipelinedCalls} asynchronous calls per span, {@code pipelinedSpans} spans per
     * case (0 calls: no pipelined run).
     */
    public record Settings(int tokens, int hidden, int topk, int experts, int sms, int iters, int warmup,
            int llTokens, int[] sweepTokens, int[] llSweepTokens, long seed, int pipelinedCalls, int pipelinedSpans) {

        public Settings {
            if (pipelinedCalls < 0 || (pipelinedCalls > 0 && pipelinedSpans <= 0)) {
                throw new IllegalArgumentException("pipelinedCalls " + pipelinedCalls + ", pipelinedSpans "
                        + pipelinedSpans + ": expected calls >= 0, and spans > 0 when calls > 0");
            }
        }

        int[] normalPoints() {
            return points(sweepTokens, tokens);
        }

        int[] llPoints() {
            return points(llSweepTokens, llTokens);
        }

        /**
         * The low-latency capacity (maxTokensPerRank) a size runs with: the table's size for the
         * sizes up to it, as DeepEP's tests configure their buffer, the largest size above it.
         */
        int llCapacity(int tokensPerRank) {
            int[] all = llPoints();
            return tokensPerRank <= llTokens ? llTokens : all[all.length - 1];
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

    /** Each rank's device clock; null where there is none (the CPU backend). */
    private static IntFunction<KernelTiming> timings(EpBuffers buffers) {
        return r -> buffers.rank(r).kernelTiming().orElse(null);
    }

    /** The device time of the buffer's last call; NaN where there is none (the CPU backend). */
    static double lastCallMicros(EpBuffer buffer) {
        return buffer.kernelTiming().map(KernelTiming::lastCallMicros).orElse(Double.NaN);
    }

    private final Settings s;
    private final EpGroup group;
    private final ProgressBar bar;
    private final CaseTimer timer;
    private final int ranks;

    Bench(Settings settings, EpGroup group, BenchRanks meet, Baseline baseline, ProgressBar bar) {
        this.s = settings;
        this.group = group;
        this.bar = bar;
        this.timer = new CaseTimer(group, meet, baseline, bar, settings);
        this.ranks = group.size();
    }

    /** Whether the backend captures device graphs (the graph case runs only there). */
    private boolean hasGraphs() {
        return !"cpu".equals(group.backend());
    }

    /** Progress steps {@link #run} takes. */
    public long totalSteps() {
        long steps = 0;
        for (int t : s.normalPoints()) {
            steps += 1 + 3 * timer.steps(t == s.tokens(), false);
        }
        for (int t : s.llPoints()) {
            steps += 1 + 3 * timer.steps(t == s.llTokens(), t == s.llTokens());
            if (t == s.llTokens() && hasGraphs()) {
                steps += timer.steps(false, false); // the graph case
            }
        }
        return steps;
    }

    /**
     * Runs every size. Each normal size gets its own buffer, sized for it and closed after it, so
     * that memory a backend keeps for one size (result pools, staging) is given back before the
     * next; the low-latency sizes share a buffer per capacity ({@link Settings#llCapacity}), as a
     * decoding server would.
     */
    public Outcome run() {
        List<BenchResult> table = new ArrayList<>();
        List<BenchResult> sweep = new ArrayList<>();
        for (int t : s.normalPoints()) {
            try (EpBuffers buffers = group.allocate(BufferSpec.normal(s.hidden(), t).maxTopk(s.topk()))) {
                List<BenchResult> rs = normalPoint(buffers, t, t == s.tokens());
                sweep.addAll(rs);
                if (t == s.tokens()) {
                    table.addAll(rs);
                }
            }
        }
        TreeMap<Integer, List<Integer>> byCapacity = new TreeMap<>();
        for (int t : s.llPoints()) {
            byCapacity.computeIfAbsent(s.llCapacity(t), k -> new ArrayList<>()).add(t);
        }
        List<String> notes = new ArrayList<>();
        try {
            for (var e : byCapacity.entrySet()) {
                BufferSpec llSpec = BufferSpec.normal(s.hidden(), 1).maxTopk(s.topk()).lowLatency(e.getKey(), s.experts());
                try (EpBuffers buffers = group.allocate(llSpec)) {
                    for (int t : e.getValue()) {
                        List<BenchResult> rs = lowLatencyPoint(buffers, t, t == s.llTokens());
                        sweep.addAll(rs);
                        if (t == s.llTokens()) {
                            table.addAll(rs);
                        }
                    }
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

    /**
     * The normal cases at one size. The synchronous dispatch is exact-size (its host waits for
     * the counts, as a caller's would); the pipelined one gives {@code numWorstTokens} = the
     * largest receive count of the routing, so that no call waits on the host and every rank's
     * rows are the ones an exact dispatch moves. Combine combines the rows of one dispatch made
     * before it, again and again (no dispatch between, so its rows stay valid).
     */
    private List<BenchResult> normalPoint(EpBuffers buffers, int tokens, boolean main) {
        bar.label("generating T=" + tokens);
        List<BenchResult> out = new ArrayList<>();
        try (Workload w = Workload.generate(group, tokens, s.hidden(), s.topk(), s.experts(), s.seed(), true)) {
            bar.step(1);
            long[][] counts = w.tokenCounts();
            long[][] back = transpose(counts);
            int worst = (int) Math.max(1, Arrays.stream(counts).mapToLong(Bench::sum).max().orElse(1));
            DispatchLayout[] layouts = new DispatchLayout[ranks];
            try {
                group.onEachRank(r -> layouts[r] = buffers.rank(r).layout(w.idx[r], s.experts()));
                for (boolean fp8 : new boolean[] {false, true}) {
                    BenchCase c = fp8 ? BenchCase.DISPATCH_FP8 : BenchCase.DISPATCH_BF16;
                    out.add(timer.measure(c, tokens, s.hidden(), counts, main, false, timings(buffers),
                            r -> new CaseTimer.Rep() {
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

                        @Override
                        public EpEvent callAsync() {
                            try (Dispatched a = buf.dispatch(dispatchArgs(w, layouts, r, fp8).numWorstTokens(worst)
                                    .async(true))) {
                                return a.event();
                            }
                        }
                    }));
                }
                // A rank's combine sends back the rows it received: dispatch's matrix, transposed.
                out.add(timer.measure(BenchCase.COMBINE_BF16, tokens, s.hidden(), back, main, false, timings(buffers),
                        r -> new CaseTimer.Rep() {
                    final EpBuffer buf = buffers.rank(r);
                    final Dispatched d = checked(buf.dispatch(dispatchArgs(w, layouts, r, false)), r);
                    Combined c;

                    private Dispatched checked(Dispatched dd, int rank) {
                        checkRows(BenchCase.COMBINE_BF16, rank, dd.numRows(), sum(counts[rank]));
                        return dd;
                    }

                    @Override
                    public void call(int it) {
                        c = buf.combine(combineArgs());
                    }

                    private CombineArgs combineArgs() {
                        return CombineArgs.of(d.x(), d.handle()).config(s.config());
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
                    public EpEvent callAsync() {
                        try (Combined a = buf.combine(combineArgs().async(true))) {
                            return a.event();
                        }
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

    /**
     * The low-latency cases at one size; at the table's size with the baseline and the hook mode.
     * Combine needs a received dispatch: one is made before every synchronous or hook-mode combine
     * and before every pipelined span, whose combines then all use it.
     */
    private List<BenchResult> lowLatencyPoint(EpBuffers buffers, int tokens, boolean main) {
        bar.label("generating T=" + tokens);
        List<BenchResult> out = new ArrayList<>();
        try (Workload w = Workload.generate(group, tokens, s.hidden(), s.topk(), s.experts(), s.seed() + 1, false)) {
            bar.step(1);
            long[][] pairs = w.pairCounts();
            for (boolean fp8 : new boolean[] {false, true}) {
                BenchCase c = fp8 ? BenchCase.LL_DISPATCH_FP8 : BenchCase.LL_DISPATCH_BF16;
                out.add(timer.measure(c, tokens, s.hidden(), pairs, main, main, timings(buffers),
                        r -> new CaseTimer.Rep() {
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

                    @Override
                    public EpEvent callAsync() {
                        try (LowLatencyDispatched a = buf.lowLatencyDispatch(llArgs(w, r, fp8).async(true))) {
                            return a.event();
                        }
                    }

                    @Override
                    public RecvHook send(int it) {
                        d = buf.lowLatencyDispatch(llArgs(w, r, fp8).returnRecvHook(true));
                        return d.hook();
                    }

                    @Override
                    public void received(int it) {
                        finish(it);
                    }
                }));
            }
            // The expert outputs are the received rows as they are: the dispatch's own receive
            // tensor is passed as y (no extra [L, R*N, H] copy per rank, which at 8 ranks and
            // H = 7168 would be 470 MB each). The backend then does its usual non-zero-copy work.
            out.add(timer.measure(BenchCase.LL_COMBINE_BF16, tokens, s.hidden(), transpose(pairs), main, main,
                    timings(buffers),
                    r -> new CaseTimer.Rep() {
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

                private LowLatencyCombineArgs combineArgs() {
                    return LowLatencyCombineArgs.of(d.x(), w.idx[r], w.weights[r], d.handle());
                }

                @Override
                public void call(int it) {
                    c = buf.lowLatencyCombine(combineArgs());
                }

                @Override
                public void finish(int it) {
                    c.close();
                }

                @Override
                public void beforeSpan() {
                    d = buf.lowLatencyDispatch(llArgs(w, r, false));
                }

                @Override
                public EpEvent callAsync() {
                    try (LowLatencyCombined a = buf.lowLatencyCombine(combineArgs().async(true))) {
                        return a.event();
                    }
                }

                @Override
                public RecvHook send(int it) {
                    c = buf.lowLatencyCombine(combineArgs().returnRecvHook(true));
                    return c.hook();
                }

                @Override
                public void received(int it) {
                    c.close();
                }
            }));
            if (main && hasGraphs()) {
                out.add(graphCase(buffers, w, tokens, pairs));
            }
        }
        return out;
    }

    /**
     * A decoding step as a CUDA graph: each rank captures [low-latency dispatch bf16, low-latency
     * combine of the received rows] once, then replays it (GPUs only: the CPU backend has no
     * graphs). Synchronous: replay and wait; pipelined: replays back to back. Its bytes are the
     * dispatch's and the combine's together.
     */
    private BenchResult graphCase(EpBuffers buffers, Workload w, int tokens, long[][] pairs) {
        long[][] both = transpose(pairs);
        for (int i = 0; i < ranks; i++) {
            for (int j = 0; j < ranks; j++) {
                both[i][j] += pairs[i][j];
            }
        }
        return timer.measure(BenchCase.LL_GRAPH_BF16, tokens, s.hidden(), both, false, false, timings(buffers),
                r -> new CaseTimer.Rep() {
            final EpBuffer buf = buffers.rank(r);
            LowLatencyDispatched d;
            LowLatencyCombined c;
            final EpGraph graph = buf.captureGraph(() -> {
                d = buf.lowLatencyDispatch(llArgs(w, r, false));
                c = buf.lowLatencyCombine(LowLatencyCombineArgs.of(d.x(), w.idx[r], w.weights[r], d.handle()));
            });

            @Override
            public void call(int it) {
                graph.replay().await();
            }

            @Override
            public EpEvent callAsync() {
                return graph.replay();
            }

            @Override
            public void close() {
                graph.close();
                c.close();
                d.close();
            }
        });
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
