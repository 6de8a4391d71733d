package ep4j.cli.bench;

import ep4j.cli.Main;
import ep4j.cli.plot.Chart;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ep4j plot}: draws bench.png, bench-ll.png and bench-sms.png (those the file has data for)
 * from a bench.json (e.g. one made where no java.desktop was).
 */
@Command(name = "plot", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Draw the PNG plots of a bench.json.")
public final class PlotCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--in", required = true, description = "Folder with bench.json; the PNGs are written there.")
    Path in;

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        if (!Files.isDirectory(in)) {
            throw new IllegalArgumentException("--in " + in + ": no such folder (expected the --out folder of ep4j bench)");
        }
        BenchFile file = BenchFile.read(in.resolve("bench.json"));
        if (!Chart.canDraw()) {
            throw new UnsupportedOperationException("ep4j plot cannot draw here: " + Chart.cannotDrawReason()
                    + "; run it with a full JDK");
        }
        for (Path png : BenchReport.writePlots(in, file)) {
            stdout.println("wrote " + png);
        }
        stdout.flush();
        return Main.EXIT_OK;
    }
}
