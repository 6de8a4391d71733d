package ep4j.cli.bench;

import ep4j.cli.plot.Chart;
import ep4j.cli.term.Table;
import java.util.List;
import java.util.Locale;

/** The table and the plots of a benchmark run. */
public final class BenchReport {
    public static final String[] COLUMNS = {
        "case", "ranks", "tokens", "hidden", "time us", "p50 us", "p99 us", "max us", "gpu us", "logical GB/s",
        "cross GB/s", "baseline GB/s", "ratio"};

    private BenchReport() {
    }

    public static Table table(List<BenchResult> results) {
        Table t = new Table(COLUMNS);
        for (BenchResult r : results) {
            Latency l = r.latency();
            t.row(r.benchCase().label(), r.ranks(), r.tokens(), r.hidden(), fmt(l.median() / 1e3, 1),
                    fmt(l.p50() / 1e3, 1), fmt(l.p99() / 1e3, 1), fmt(l.max() / 1e3, 1), fmt(r.gpuMicros(), 1), fmt(r.logicalGBps(), 2), fmt(r.crossGBps(), 2), fmt(r.baselineGBps(), 2),
                    fmt(r.ratio(), 2));
        }
        return t;
    }

    static String fmt(double v, int decimals) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%." + decimals + "f", v) : "-";
    }

    /** The rows of bench.json: the table's with their baseline, or the sweep's without. */
    public static List<BenchFile.Row> rows(List<BenchResult> results, boolean withBaseline) {
        return results.stream().map(r -> BenchFile.Row.of(r, withBaseline)).toList();
    }

    /** Time against tokens, one line per case, log-log (low-latency cases sit at their own, smaller sizes). */
    public static Chart plot(BenchFile file) {
        Chart p = new Chart(960, 600).title(file.title()).xLabel("tokens per rank").yLabel("time per call (us)")
                .logX(true).logY(true);
        for (BenchCase c : BenchCase.values()) {
            List<BenchFile.Row> rs = file.sweepOf(c);
            if (!rs.isEmpty()) {
                p.add(c.label(), rs.stream().mapToDouble(BenchFile.Row::tokens).toArray(),
                        rs.stream().mapToDouble(BenchFile.Row::timeUs).toArray());
            }
        }
        return p;
    }

    /** Logical GB/s (GPU time) against SMs, one line per kernel; null when the file has no SM sweep. */
    public static Chart smsPlot(BenchFile file) {
        return file.smsSweep() == null || file.smsSweep().isEmpty() ? null
                : SmSweep.plot("GB/s against SMs, " + file.title(), file.smsSweep());
    }
}
