package ep4j.cli;

import ep4j.cli.bench.BenchCommand;
import ep4j.cli.replay.ReplayCommand;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The {@code ep4j} command. Exit codes: 0 success, 2 usage error (bad option or value), 1 any
 * other failure, reported as one line {@code ep4j: error: ...} (the stack trace too with
 * {@code --verbose}). Subcommands are registered in {@link #commandLine}; {@code tune} will join them.
 */
@Command(name = "ep4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Expert-parallel MoE communication for the JVM: benchmarks, replays, soak runs, and a launcher of one process per GPU.",
        subcommands = {BenchCommand.class, ReplayCommand.class, ep4j.cli.tune.TuneCommand.class,
            ep4j.cli.bench.PlotCommand.class, ep4j.cli.soak.SoakCommand.class,
            ep4j.cli.launch.LaunchCommand.class, ep4j.cli.launch.RendezvousCheckCommand.class,
            CommandLine.HelpCommand.class},
        synopsisSubcommandLabel = "COMMAND")
public final class Main implements Callable<Integer> {
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    @Spec
    CommandSpec spec;

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces of failures.")
    boolean verbose;

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        ep4j.cli.launch.ParentWatch.start(System.getenv(), System.err);
        int code = run(System.out, System.err, args);
        System.out.flush();
        System.exit(code);
    }

    /** Runs the command with the given streams; returns the exit code. */
    public static int run(PrintStream out, PrintStream err, String... args) {
        PrintWriter o = new PrintWriter(new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8), true);
        PrintWriter e = new PrintWriter(new java.io.OutputStreamWriter(err, StandardCharsets.UTF_8), true);
        try {
            return commandLine(o, e, Arrays.asList(args).contains("--verbose")).execute(args);
        } finally {
            o.flush();
            e.flush();
        }
    }

    /** The configured command line (exposed so a later command such as {@code tune} can be added in one place). */
    public static CommandLine commandLine(PrintWriter out, PrintWriter err, boolean verbose) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        // launch passes everything from its COMMAND on to the ranks, options included.
        cl.getSubcommands().get("launch").setStopAtPositional(true);
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine bad = ex.getCommandLine();
            PrintWriter w = bad.getErr();
            w.println("ep4j: " + ex.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(ex, w);
            w.println("Try '" + bad.getCommandSpec().qualifiedName() + " --help' for more information.");
            w.flush();
            return EXIT_USAGE;
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            commandLine.getErr().println("ep4j: error: " + oneLine(ex));
            if (verbose) {
                ex.printStackTrace(commandLine.getErr());
            }
            commandLine.getErr().flush();
            return EXIT_FAILURE;
        });
        return cl;
    }

    /** The message of a failure and of its causes, on one line. */
    public static String oneLine(Throwable t) {
        StringBuilder sb = new StringBuilder();
        Throwable cur = t;
        int depth = 0;
        String last = null;
        while (cur != null && depth++ < 6) {
            String m = cur.getMessage();
            if (m == null || m.isBlank()) {
                m = cur.getClass().getSimpleName();
            } else if (cur instanceof NullPointerException || cur instanceof IllegalStateException && m.length() < 12) {
                m = cur.getClass().getSimpleName() + ": " + m;
            }
            if (last == null || !last.contains(m)) {
                sb.append(sb.isEmpty() ? "" : ": ").append(m);
            }
            last = m;
            if (cur.getCause() == cur) {
                break;
            }
            cur = cur.getCause();
        }
        return sb.toString().replaceAll("\\s*\\R\\s*", " ").strip();
    }

    @Override
    public Integer call() {
        // No command given: that is a usage error.
        spec.commandLine().getErr().println("ep4j: missing command (bench, replay, tune, plot, soak, launch)");
        spec.commandLine().usage(spec.commandLine().getErr());
        return EXIT_USAGE;
    }

    /** The version from the build ({@code version.properties}), and the Java that runs it. */
    public static final class Version implements CommandLine.IVersionProvider {
        public static String version() {
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    Properties p = new Properties();
                    p.load(in);
                    String v = p.getProperty("version");
                    if (v != null && !v.startsWith("${")) {
                        return v;
                    }
                }
            } catch (java.io.IOException e) {
                // fall through
            }
            return "unknown";
        }

        @Override
        public String[] getVersion() {
            return new String[] {
                "ep4j " + version(),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ", "
                        + System.getProperty("java.home") + ")",
            };
        }
    }
}
