package ep4j.cli.bench;

import ep4j.cli.plot.Chart;
import ep4j.cli.term.Table;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The tables, their legends and the plots of a benchmark run. */
public final class BenchReport {
    public static final String[] COLUMNS = {
        "case", "ranks", "tokens", "hidden", "wall us", "p50 us", "p99 us", "max us", "gpu us", "host us",
        "logical GB/s", "cross GB/s", "baseline GB/s", "ratio"};

    public static final String[] HOOK_COLUMNS = {
        "case", "tokens", "send us", "send p99 us", "send gpu us", "recv us", "recv p99 us", "recv gpu us"};

    private BenchReport() {
    }

    public static Table table(List<BenchResult> results) {
        Table t = new Table(COLUMNS);
        for (BenchResult r : results) {
            Latency l = r.latency();
            t.row(r.benchCase().label(), r.ranks(), r.tokens(), r.hidden(), fmt(l.median() / 1e3, 1),
                    fmt(l.p50() / 1e3, 1), fmt(l.p99() / 1e3, 1), fmt(l.max() / 1e3, 1), fmt(r.pipelinedGpuMicros(), 1),
                    fmt(r.hostMicros(), 1), fmt(r.logicalGBps(), 2), fmt(r.crossGBps(), 2), fmt(r.baselineGBps(), 2),
                    fmt(r.ratio(), 2));
        }
        return t;
    }

    /** What the columns of {@link #table} mean, one line each. */
    public static List<String> legend(Baseline baseline, int pipelinedCalls, int pipelinedSpans, boolean deviceClock) {
        String gpu;
        if (!deviceClock) {
            gpu = "gpu: pipelined GPU time per call, on GPUs only (this backend has no device clock)"
                    + (pipelinedCalls > 0 ? "; its " + pipelinedCalls + " async calls per case ran to check that path" : "");
        } else if (pipelinedCalls == 0) {
            gpu = "gpu: pipelined GPU time per call; not measured (--pipelined-calls 0)";
        } else {
            gpu = "gpu: pipelined GPU time per call, as DeepEP reports it: CUDA events around " + pipelinedCalls
                    + " back-to-back async calls on every rank at once (no host wait between), / " + pipelinedCalls
                    + "; the slowest rank, median of " + pipelinedSpans + " spans";
        }
        List<String> lines = new ArrayList<>(List.of(
                "wall: median wall clock of a synchronous call, from a barrier all ranks pass to the moment all are"
                        + " done; p50, p99: percentiles (HdrHistogram, " + Latency.DIGITS + " significant digits);"
                        + " max: the slowest call",
                gpu,
                "  normal dispatch runs pipelined with numWorstTokens = the largest receive count of the routing (an"
                        + " exact-size async dispatch still waits on the host for the counts); its synchronous calls"
                        + " are exact-size",
                "host: wall - gpu, the host's cost of a synchronous call; \"-\": no gpu figure",
                "logical GB/s: bytes a rank receives (own tokens included) / wall; cross GB/s: bytes that crossed to"
                        + " another rank (NVLink) / wall",
                "baseline: " + baseline.name() + " (" + baseline.description() + ") of "
                        + (baseline.crossOnly() ? "the cross bytes" : "the same bytes") + "; ratio = baseline time / wall"));
        if (deviceClock) {
            lines.add("ll graph d+c: one CUDA-graph replay of [low-latency dispatch bf16, low-latency combine of the"
                    + " received rows] (no expert kernel between); wall: replay and wait; gpu: replays back to back;"
                    + " its bytes are dispatch's and combine's");
        }
        return List.copyOf(lines);
    }

    /**
     * A note naming the cases whose pipelined GPU time is the host's pace (see
     * {@link PipelinedTimes#hostBound()}); null when there are none.
     */
    public static String hostBoundNote(List<BenchResult> results) {
        List<String> bound = new ArrayList<>();
        for (BenchResult r : results) {
            PipelinedTimes p = r.pipelined();
            if (p != null && p.hostBound()) {
                bound.add(r.benchCase().label() + " (issue " + fmt(p.issueMicros(), 1) + " us, gpu "
                        + fmt(p.gpuMicros(), 1) + " us)");
            }
        }
        return bound.isEmpty() ? null : "host-bound pipelines: " + String.join(", ", bound) + ": the host took about as"
                + " long to issue a call as the GPU to run it, so the GPU waited; their gpu figure is an upper bound";
    }

    /** Hook mode of the low-latency cases (the rows that have it); null when none has. */
    public static Table hookTable(List<BenchResult> results) {
        Table t = new Table(HOOK_COLUMNS);
        for (BenchResult r : results) {
            HookTimes h = r.hook();
            if (h != null) {
                t.row(r.benchCase().label(), r.tokens(), fmt(h.sendWall().median() / 1e3, 1),
                        fmt(h.sendWall().p99() / 1e3, 1), fmt(h.sendGpuMicros(), 1),
                        fmt(h.receiveWall().median() / 1e3, 1), fmt(h.receiveWall().p99() / 1e3, 1),
                        fmt(h.receiveGpuMicros(), 1));
            }
        }
        return t.rowCount() == 0 ? null : t;
    }

    /** What the columns of {@link #hookTable} mean. */
    public static List<String> hookLegend() {
        return List.of(
                "send: wall clock of the call made with returnRecvHook(true), which only sends; recv: wall clock of"
                        + " hook().receive() (GPU: issuing the receive half; CPU: the whole receive, done at once);"
                        + " median and p99 over the calls, barriers as for wall",
                "send gpu, recv gpu: CUDA-event span of each half alone, the slowest rank, median over the calls;"
                        + " the send span starts just before the call, so its host path up to the launch counts; the"
                        + " receive half is issued once every rank's send has completed");
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

    /**
     * The low-latency sweep: pipelined GPU time (solid) and wall clock of a synchronous call
     * (dashed, same colour) against tokens per rank, log2 axes; a case without GPU times (the CPU
     * backend, older files) has its wall clock only. Null when the file has no low-latency sweep.
     */
    public static Chart llPlot(BenchFile file) {
        Chart p = new Chart(960, 600).title("low latency, " + file.title()).xLabel("tokens per rank")
                .yLabel("time per call (us): gpu pipelined, wall synchronous").logX(true).logY(true);
        int colour = 0;
        for (BenchCase c : BenchCase.values()) {
            List<BenchFile.Row> rs = file.sweepOf(c);
            if (!c.lowLatency() || rs.isEmpty()) {
                continue;
            }
            double[] x = rs.stream().mapToDouble(BenchFile.Row::tokens).toArray();
            double[] gpu = rs.stream().mapToDouble(r -> r.pipelinedUs() == null ? Double.NaN : r.pipelinedUs()).toArray();
            if (Arrays.stream(gpu).anyMatch(Double::isFinite)) {
                p.add(c.label() + " gpu", x, gpu, colour, false);
            }
            p.add(c.label() + " wall", x, rs.stream().mapToDouble(BenchFile.Row::timeUs).toArray(), colour, true);
            colour++;
        }
        return p.series().isEmpty() ? null : p;
    }

    /** Logical GB/s (GPU time) against SMs, one line per kernel; null when the file has no SM sweep. */
    public static Chart smsPlot(BenchFile file) {
        return file.smsSweep() == null || file.smsSweep().isEmpty() ? null
                : SmSweep.plot("GB/s against SMs, " + file.title(), file.smsSweep());
    }

    /**
     * Writes every plot the file has data for into {@code dir}: bench.png, bench-ll.png (the
     * low-latency sweep), bench-sms.png (the SM sweep, GPUs).
     *
     * @return the files written, in that order
     */
    public static List<Path> writePlots(Path dir, BenchFile file) throws IOException {
        List<Path> written = new ArrayList<>();
        Path png = dir.resolve("bench.png");
        plot(file).writePng(png);
        written.add(png);
        Chart ll = llPlot(file);
        if (ll != null) {
            Path llPng = dir.resolve("bench-ll.png");
            ll.writePng(llPng);
            written.add(llPng);
        }
        Chart sms = smsPlot(file);
        if (sms != null) {
            Path smsPng = dir.resolve("bench-sms.png");
            sms.writePng(smsPng);
            written.add(smsPng);
        }
        return written;
    }
}
