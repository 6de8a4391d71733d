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
import ep4j.cli.plot.Chart;
import ep4j.cli.term.ProgressBar;
import ep4j.cli.term.Table;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * GPU time of the normal kernels against the number of SMs they may use, on one problem: the
 * data behind {@code ep4j tune} and the bench's GB/s-against-SMs plot. Times are CUDA-event
 * spans of the kernels (dispatch: from the count exchange to the last row written), the median
 * over iterations of the slowest rank.
 */
public final class SmSweep {
    /**
     * One SM count: GPU microseconds of each kernel, and the bytes behind them (per rank, mean).
     * exchangeUs is the count exchange alone where it is a launch of its own (the FP8 dispatch's
     * ep4j_notify), NaN where the dispatch kernel runs it.
     */
    public record Point(int sms, double dispatchBf16Us, double dispatchFp8Us, double combineUs, double layoutUs,
            double exchangeUs) {
    }

    public record Result(List<Point> points, double bf16BytesPerRank, double fp8BytesPerRank, double crossBf16BytesPerRank,
            double crossFp8BytesPerRank) {

        public Table table() {
            Table t = new Table("sms", "layout us", "exchange us", "dispatch bf16 us", "GB/s", "dispatch fp8 us", "GB/s",
                    "combine us", "GB/s");
            for (Point p : points) {
                t.row(p.sms(), f(p.layoutUs()), f(p.exchangeUs()), f(p.dispatchBf16Us()),
                        f(bf16BytesPerRank / p.dispatchBf16Us() / 1e3), f(p.dispatchFp8Us()), f(fp8BytesPerRank / p.dispatchFp8Us() / 1e3), f(p.combineUs()),
                        f(bf16BytesPerRank / p.combineUs() / 1e3));
            }
            return t;
        }

        /** The points for bench.json (times in microseconds, logical and cross GB/s). */
        public List<BenchFile.SmPoint> json() {
            return points.stream().map(p -> new BenchFile.SmPoint(p.sms(), p.layoutUs(), p.exchangeUs(),
                    p.dispatchBf16Us(), p.dispatchFp8Us(), p.combineUs(), bf16BytesPerRank / p.dispatchBf16Us() / 1e3,
                    fp8BytesPerRank / p.dispatchFp8Us() / 1e3, bf16BytesPerRank / p.combineUs() / 1e3,
                    crossBf16BytesPerRank / p.dispatchBf16Us() / 1e3, crossFp8BytesPerRank / p.dispatchFp8Us() / 1e3,
                    crossBf16BytesPerRank / p.combineUs() / 1e3)).toList();
        }

        private static String f(double v) {
            return Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f", v) : "-";
        }
    }

    private SmSweep() {
    }

    /** Logical GB/s (GPU time) against SMs, one line per kernel. */
    public static Chart plot(String title, List<BenchFile.SmPoint> points) {
        double[] x = points.stream().mapToDouble(BenchFile.SmPoint::sms).toArray();
        Chart p = new Chart(960, 600).title(title).xLabel("SMs").integerX(true).yLabel("logical GB/s (GPU time)");
        p.add("dispatch bf16", x, points.stream().mapToDouble(BenchFile.SmPoint::dispatchBf16Gbps).toArray());
        p.add("dispatch fp8", x, points.stream().mapToDouble(BenchFile.SmPoint::dispatchFp8Gbps).toArray());
        p.add("combine bf16", x, points.stream().mapToDouble(BenchFile.SmPoint::combineGbps).toArray());
        return p;
    }

    /** The sweep with every rank a thread of this JVM. */
    public static Result run(EpGroup group, int tokens, int hidden, int topk, int experts, int[] smsList, int iters,
            long seed, ProgressBar bar) {
        try (BenchRanks meet = BenchRanks.threads(group.size())) {
            return run(group, meet, tokens, hidden, topk, experts, smsList, iters, seed, bar);
        }
    }

    /** The sweep with the ranks meeting as {@code meet} says (in a job, every process runs it). */
    static Result run(EpGroup group, BenchRanks meet, int tokens, int hidden, int topk, int experts, int[] smsList,
            int iters, long seed, ProgressBar bar) {
        int ranks = group.size();
        List<Point> points = new ArrayList<>();
        try (Workload w = Workload.generate(group, tokens, hidden, topk, experts, seed, true);
             EpBuffers buffers = group.allocate(BufferSpec.normal(hidden, tokens).maxTopk(topk))) {
            buffers.all().forEach(b -> b.kernelTiming().ifPresent(KernelTiming::enable));
            long[][] counts = w.tokenCounts();
            double rows = 0;
            double crossRows = 0;
            for (int i = 0; i < ranks; i++) {
                for (int j = 0; j < ranks; j++) {
                    rows += counts[i][j];
                    crossRows += i == j ? 0 : counts[i][j];
                }
            }
            RankBarrier barrier = meet.barrier(t -> { });
            // us[sms][kernel][iteration][rank]: each rank fills its own column.
            double[][][][] us = new double[smsList.length][5][iters][ranks];
            RankRuns.run(group, r -> {
                EpBuffer buf = buffers.rank(r);
                try (DispatchLayout layout = buf.layout(w.idx[r], experts)) {
                    for (int si = 0; si < smsList.length; si++) {
                        Config cfg = Config.sms(smsList[si]);
                        for (int it = -1; it < iters; it++) {
                            barrier.await();
                            buf.layout(w.idx[r], experts).close();
                            double lay = Bench.lastCallMicros(buf);
                            try (Dispatched d = buf.dispatch(
                                    DispatchArgs.of(w.x[r]).topk(w.idx[r], w.weights[r]).layout(layout).config(cfg))) {
                                double bf16 = Bench.lastCallMicros(buf);
                                buf.dispatch(DispatchArgs.fp8(w.xFp8[r], w.scales[r]).topk(w.idx[r], w.weights[r])
                                        .layout(layout).config(cfg)).close();
                                double fp8 = Bench.lastCallMicros(buf);
                                double exchange = buf.kernelTiming()
                                        .map(k -> k.lastMicros(KernelTiming.Stage.NOTIFY)).orElse(Double.NaN);
                                try (Combined c = buf.combine(CombineArgs.of(d.x(), d.handle()).config(cfg))) {
                                    double comb = Bench.lastCallMicros(buf);
                                    if (it >= 0) {
                                        us[si][0][it][r] = bf16;
                                        us[si][1][it][r] = fp8;
                                        us[si][2][it][r] = comb;
                                        us[si][3][it][r] = lay;
                                        us[si][4][it][r] = exchange;
                                    }
                                }
                            }
                        }
                        if (r == group.localRanks()[0] && bar != null) {
                            bar.step(1);
                        }
                    }
                }
                return null;
            }, barrier::breakAll);
            meet.pool("the SM sweep", Arrays.stream(us).flatMap(Arrays::stream).toArray(double[][][]::new));
            for (int si = 0; si < smsList.length; si++) {
                double[] m = new double[5];
                for (int k = 0; k < 5; k++) {
                    m[k] = slowestRankMedian(us[si][k], iters);
                }
                points.add(new Point(smsList[si], m[0], m[1], m[2], m[3], m[4]));
            }
            long bf16Row = 2L * hidden;
            long fp8Row = hidden + 4L * (hidden / 128);
            return new Result(points, rows * bf16Row / ranks, rows * fp8Row / ranks, crossRows * bf16Row / ranks,
                    crossRows * fp8Row / ranks);
        }
    }

    private static double slowestRankMedian(double[][] v, int iters) {
        double[] perIter = new double[iters];
        for (int it = 0; it < iters; it++) {
            double worst = 0;
            for (double x : v[it]) {
                worst = Math.max(worst, x);
            }
            perIter[it] = worst;
        }
        Arrays.sort(perIter);
        return perIter[iters / 2];
    }
}
