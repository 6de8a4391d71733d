package ep4j.cli.bench;

import ep4j.cli.json.Json;
import ep4j.cli.plot.LinePlot;
import ep4j.cli.term.Table;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The table, bench.json and bench.png of a benchmark run. */
public final class BenchReport {
    public static final String[] COLUMNS = {
        "case", "ranks", "tokens", "hidden", "time us", "gpu us", "logical GB/s", "cross GB/s", "baseline GB/s",
        "ratio"};

    private BenchReport() {
    }

    public static Table table(List<BenchResult> results) {
        Table t = new Table(COLUMNS);
        for (BenchResult r : results) {
            t.row(r.benchCase().label(), r.ranks(), r.tokens(), r.hidden(), fmt(r.timeMicros(), 1),
                    fmt(r.gpuMicros(), 1), fmt(r.logicalGBps(), 2), fmt(r.crossGBps(), 2), fmt(r.baselineGBps(), 2),
                    fmt(r.ratio(), 2));
        }
        return t;
    }

    static String fmt(double v, int decimals) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%." + decimals + "f", v) : "-";
    }

    /** bench.json: the settings, the table rows, the sweep. */
    public static Map<String, Object> json(Map<String, Object> header, Bench.Outcome outcome) {
        Map<String, Object> root = new LinkedHashMap<>(header);
        root.put("results", rows(outcome.table(), true));
        root.put("sweep", rows(outcome.sweep(), false));
        root.put("notes", outcome.notes());
        return root;
    }

    private static List<Object> rows(List<BenchResult> results, boolean baseline) {
        List<Object> out = new ArrayList<>();
        for (BenchResult r : results) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("case", r.benchCase().label());
            m.put("ranks", r.ranks());
            m.put("tokens", r.tokens());
            m.put("hidden", r.hidden());
            m.put("time_us", r.timeMicros());
            m.put("min_us", Stats.min(r.samplesNanos()) / 1e3);
            m.put("mean_us", Stats.mean(r.samplesNanos()) / 1e3);
            m.put("max_us", Stats.max(r.samplesNanos()) / 1e3);
            m.put("samples", r.samplesNanos().length);
            m.put("bytes_per_rank", r.bytesPerRank());
            m.put("gpu_us", r.gpuMicros());
            m.put("logical_gbps", r.logicalGBps());
            m.put("cross_bytes_per_rank", r.crossBytesPerRank());
            m.put("cross_gbps", r.crossGBps());
            if (baseline) {
                m.put("baseline", r.baselineName());
                m.put("baseline_us", r.baselineSeconds() * 1e6);
                m.put("baseline_gbps", r.baselineGBps());
                m.put("ratio", r.ratio());
            }
            out.add(m);
        }
        return out;
    }

    public static void writeJson(Path file, Map<String, Object> json) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, Json.write(json));
    }

    /** Time against tokens, one line per case, log-log (low-latency cases sit at their own, smaller sizes). */
    public static LinePlot plot(String title, List<BenchResult> sweep) {
        LinePlot p = new LinePlot(960, 600).title(title).xLabel("tokens per rank").yLabel("time per call (us)")
                .logX(true).logY(true);
        for (BenchCase c : BenchCase.values()) {
            List<BenchResult> rs = sweep.stream().filter(r -> r.benchCase() == c).toList();
            if (rs.isEmpty()) {
                continue;
            }
            double[] x = rs.stream().mapToDouble(BenchResult::tokens).toArray();
            double[] y = rs.stream().mapToDouble(BenchResult::timeMicros).toArray();
            p.add(c.label(), x, y);
        }
        return p;
    }
}
