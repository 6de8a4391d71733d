package ep4j.cli.tune;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.cli.Main;
import ep4j.cli.bench.SmSweep;
import ep4j.cli.plot.Chart;
import ep4j.cli.term.ProgressBar;
import ep4j.cli.term.Terminals;
import ep4j.cuda.tune.TuneProfile;
import ep4j.cuda.driver.CudaDevice;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ep4j tune}: measures the normal kernels' GPU time against the SM count on this
 * machine and saves, per kernel, the fewest SMs within a few percent of the best time. The
 * automatic {@code Config} of the CUDA backend reads the saved profile.
 */
@Command(name = "tune", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = Main.Version.class,
        description = "Sweep the SM count of the normal GPU kernels and save the best choice for this machine.")
public final class TuneCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--ranks", description = "GPUs (default: all, up to 8).")
    Integer ranks;

    @Option(names = "--tokens", defaultValue = "4096", description = "Tokens per rank. Default: ${DEFAULT-VALUE}.")
    int tokens;

    @Option(names = "--hidden", defaultValue = "7168", description = "Hidden size. Default: ${DEFAULT-VALUE}.")
    int hidden;

    @Option(names = "--topk", defaultValue = "8", description = "Experts per token. Default: ${DEFAULT-VALUE}.")
    int topk;

    @Option(names = "--experts", defaultValue = "256", description = "Experts in all. Default: ${DEFAULT-VALUE}.")
    int experts;

    @Option(names = "--sms", split = ",", defaultValue = "4,8,12,16,20,24,32",
            description = "SM counts to try. Default: ${DEFAULT-VALUE}.")
    int[] sms;

    @Option(names = "--iters", defaultValue = "7", description = "Timed calls per SM count. Default: ${DEFAULT-VALUE}.")
    int iters;

    @Option(names = "--tolerance", defaultValue = "0.05",
            description = "Take the fewest SMs within this fraction of the best time. Default: ${DEFAULT-VALUE}.")
    double tolerance;

    @Option(names = "--out", defaultValue = "out/tune", description = "Where tune.png goes. Default: ${DEFAULT-VALUE}.")
    Path out;

    @Option(names = "--dry-run", description = "Measure and print, but do not save the profile.")
    boolean dryRun;

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        int r = ranks != null ? ranks : Math.min(8, ep4j.cuda.driver.Driver.isAvailable()
                ? ep4j.cuda.driver.Driver.deviceCount() : 0);
        if (r < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "ep4j tune needs GPUs: " + ep4j.cuda.driver.Driver.unavailableReason());
        }
        int[] list = Arrays.stream(sms).sorted().distinct().toArray();
        try (EpGroup group = EpGroup.open(GroupSpec.ranks(r).backend("cuda"));
             ProgressBar bar = new ProgressBar(spec.commandLine().getErr(), Terminals.stderrIsTerminal())) {
            bar.start(list.length);
            SmSweep.Result result = SmSweep.run(group, tokens, hidden, topk, experts, list, iters, 7, bar);
            bar.finish();
            stdout.println("ep4j tune: " + r + " GPUs (" + CudaDevice.get(0).name() + "), " + tokens + " tokens x "
                    + hidden + ", top-" + topk + " of " + experts + "; GPU time, median of " + iters);
            stdout.print(result.table().render());
            int dispatchSms = fewestNearBest(result, 0);
            int combineSms = fewestNearBest(result, 2);
            SmSweep.Point at = result.points().stream().filter(p -> p.sms() == dispatchSms).findFirst().orElseThrow();
            long bytesPerSm = (long) (result.bf16BytesPerRank() / dispatchSms);
            TuneProfile profile = new TuneProfile(CudaDevice.get(0).name() + " x" + r, dispatchSms, combineSms, bytesPerSm);
            stdout.printf("chosen: dispatch %d SMs (%.1f us), combine %d SMs; %d bytes per SM%n", dispatchSms,
                    at.dispatchBf16Us(), combineSms, bytesPerSm);
            Files.createDirectories(out);
            Path png = out.resolve("tune.png");
            if (!Chart.canDraw()) {
                stdout.println("note: no PNG written: " + Chart.cannotDrawReason());
            } else {
                try {
                    SmSweep.plot("ep4j tune: " + r + " GPUs, " + tokens + " tokens x " + hidden, result.json()).writePng(png);
                    stdout.println("wrote " + png);
                } catch (java.io.IOException | RuntimeException | LinkageError | InternalError ex) {
                    stdout.println("note: no PNG written (" + Main.oneLine(ex) + ")");
                }
            }
            if (!dryRun) {
                profile.save();
                stdout.println("saved " + TuneProfile.location());
            } else {
                stdout.println("not saved (--dry-run)");
            }
            stdout.flush();
        }
        return Main.EXIT_OK;
    }

    /** The fewest SMs whose time is within the tolerance of the best (column 0: dispatch bf16, 2: combine). */
    private int fewestNearBest(SmSweep.Result result, int column) {
        double best = Double.MAX_VALUE;
        for (SmSweep.Point p : result.points()) {
            best = Math.min(best, time(p, column));
        }
        for (SmSweep.Point p : result.points()) {
            if (time(p, column) <= best * (1 + tolerance)) {
                return p.sms();
            }
        }
        return result.points().get(result.points().size() - 1).sms();
    }

    private static double time(SmSweep.Point p, int column) {
        return column == 0 ? p.dispatchBf16Us() : p.combineUs();
    }
}
