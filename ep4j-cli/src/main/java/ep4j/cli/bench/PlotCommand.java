package ep4j.cli.bench;

import ep4j.cli.Main;
import ep4j.cli.json.Json;
import ep4j.cli.plot.LinePlot;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ep4j plot}: draws bench.png and bench-sms.png from a bench.json (e.g. one made where no java.desktop was). */
@Command(name = "plot", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Draw the PNG plots of a bench.json.")
public final class PlotCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--in", required = true, description = "Folder with bench.json; the PNGs are written there.")
    Path in;

    @Override
    @SuppressWarnings("unchecked")
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        Map<String, Object> doc = (Map<String, Object>) Json.parse(Files.readString(in.resolve("bench.json")));
        String title = "ep4j bench: backend " + doc.get("backend") + ", " + whole(doc.get("ranks")) + " ranks, "
                + whole(doc.get("tokens")) + " tokens x " + whole(doc.get("hidden")) + ", top-" + whole(doc.get("topk"))
                + " of " + whole(doc.get("experts"));
        LinePlot p = new LinePlot(960, 600).title(title).xLabel("tokens per rank").yLabel("time per call (us)")
                .logX(true).logY(true);
        List<Map<String, Object>> sweep = (List<Map<String, Object>>) doc.get("sweep");
        for (BenchCase c : BenchCase.values()) {
            List<Map<String, Object>> rs = sweep.stream().filter(m -> c.label().equals(m.get("case"))).toList();
            if (!rs.isEmpty()) {
                p.add(c.label(), rs.stream().mapToDouble(m -> num(m.get("tokens"))).toArray(),
                        rs.stream().mapToDouble(m -> num(m.get("time_us"))).toArray());
            }
        }
        p.writePng(in.resolve("bench.png"));
        stdout.println("wrote " + in.resolve("bench.png"));
        List<Map<String, Object>> sms = (List<Map<String, Object>>) doc.get("sms_sweep");
        if (sms != null && !sms.isEmpty()) {
            double[] x = sms.stream().mapToDouble(m -> num(m.get("sms"))).toArray();
            LinePlot q = new LinePlot(960, 600).title("GB/s against SMs, " + title).xLabel("SMs")
                    .yLabel("logical GB/s (GPU time)");
            for (String k : new String[] {"dispatch_bf16", "dispatch_fp8", "combine"}) {
                q.add(k.replace('_', ' '), x, sms.stream().mapToDouble(m -> num(m.get(k + "_gbps"))).toArray());
            }
            q.writePng(in.resolve("bench-sms.png"));
            stdout.println("wrote " + in.resolve("bench-sms.png"));
        }
        stdout.flush();
        return Main.EXIT_OK;
    }

    private static long whole(Object o) {
        return Math.round(num(o));
    }

    private static double num(Object o) {
        return ((Number) o).doubleValue();
    }
}
