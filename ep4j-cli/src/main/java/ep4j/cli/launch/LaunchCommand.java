package ep4j.cli.launch;

import ep4j.EpException;
import ep4j.cli.Main;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code ep4j launch -n N [--] COMMAND...}: one process per rank, on this host, as torchrun starts them. */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = Main.Version.class,
        header = "Run an ep4j command as N processes on this host, one per GPU (or N CPU ranks).",
        description = {
            "Starts N JVMs (the java and class path of this one, EP4J_JAVA_OPTS too), each running 'ep4j COMMAND...' with the variables torchrun sets: RANK and LOCAL_RANK (0 to N-1), WORLD_SIZE and LOCAL_WORLD_SIZE (N), MASTER_ADDR=127.0.0.1, MASTER_PORT (a free port, or --port) and a random EP4J_JOB_TOKEN. Their EP4J_RANK, EP4J_WORLD_SIZE, EP4J_LOCAL_RANK, EP4J_LOCAL_WORLD_SIZE, EP4J_MASTER_ADDR, EP4J_MASTER_PORT, Open MPI's OMPI_COMM_WORLD_* and TORCHELASTIC_USE_AGENT_STORE are unset (launch decides those). Rank 0 serves the job's rendezvous store on that port, on loopback (EpGroup.fromEnvironment()).",
            "Every line a rank prints comes out prefixed with '[rank r] ' (stdout on stdout, stderr on stderr).",
            "When a rank fails (a non-zero exit code, or a signal), the others are stopped (SIGTERM, then SIGKILL after --grace seconds) and launch exits 1, naming the rank and its exit code or signal. Ctrl-C (or SIGTERM) stops every rank the same way; if launch itself is killed, its ranks notice and exit.",
            "Put -- before a COMMAND that starts with an option (ep4j launch -n 2 -- --version).",
            "Example: ep4j launch -n 2 rendezvous-check"
        })
public final class LaunchCommand implements Callable<Integer> {
    /** Variables launch decides for its ranks: inherited values are removed. */
    static final List<String> DECIDED = List.of("EP4J_RANK", "EP4J_WORLD_SIZE", "EP4J_LOCAL_RANK",
            "EP4J_LOCAL_WORLD_SIZE", "EP4J_MASTER_ADDR", "EP4J_MASTER_PORT", "OMPI_COMM_WORLD_RANK",
            "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
            "TORCHELASTIC_USE_AGENT_STORE");

    @Spec
    CommandSpec spec;

    @Option(names = {"-n", "--nproc"}, required = true, paramLabel = "N",
            description = "How many processes (ranks), 1 to 1024: the GPUs to use, or the CPU ranks.")
    int ranks;

    @Option(names = "--port", paramLabel = "PORT",
            description = "MASTER_PORT, where rank 0 serves the rendezvous. Default: a free port.")
    Integer port;

    @Option(names = "--grace", paramLabel = "SECONDS", defaultValue = "10",
            description = "How long a rank being stopped has between SIGTERM and SIGKILL. Default: ${DEFAULT-VALUE}.")
    double graceSeconds;

    @Parameters(arity = "1..*", paramLabel = "COMMAND",
            description = "The ep4j command each rank runs, with its arguments (e.g. bench --backend cpu).")
    List<String> command;

    @Override
    public Integer call() throws IOException {
        if (ranks < 1 || ranks > 1024) {
            throw usage("-n must be 1 to 1024, not " + ranks);
        }
        if (port != null && (port < 1 || port > 65535)) {
            throw usage("--port must be 1 to 65535, not " + port);
        }
        if (!(graceSeconds > 0 && graceSeconds <= 3600)) {
            throw usage("--grace must be more than 0 and at most 3600 seconds, not " + graceSeconds);
        }
        String first = command.get(0);
        Set<String> commands = new TreeSet<>(spec.parent().subcommands().keySet());
        commands.remove("launch");
        if (!first.startsWith("-") && !commands.contains(first)) {
            throw usage("COMMAND = " + first + ": expected an ep4j command, one of " + commands
                    + " (launch runs 'ep4j COMMAND...' in every rank, not other programs"
                    + (first.equals("launch") ? ", and not launch itself" : "") + ")");
        }
        int masterPort = port != null ? port : freePort();
        byte[] secret = new byte[16];
        new SecureRandom().nextBytes(secret);
        String token = HexFormat.of().formatHex(secret);
        Launcher launcher = new Launcher(ranks, javaCommand(command), r -> environment(r, ranks, masterPort, token),
                Duration.ofMillis(Math.round(graceSeconds * 1000)), spec.commandLine().getOut(),
                spec.commandLine().getErr());
        Launcher.Outcome outcome = launcher.run();
        if (!outcome.ok()) {
            throw new EpException(outcome.describe());
        }
        return Main.EXIT_OK;
    }

    /** What rank {@code rank} of {@code size} finds in its environment (null: removed). */
    static Map<String, String> environment(int rank, int size, int port, String token) {
        Map<String, String> env = new HashMap<>();
        DECIDED.forEach(k -> env.put(k, null));
        env.put("RANK", Integer.toString(rank));
        env.put("WORLD_SIZE", Integer.toString(size));
        env.put("LOCAL_RANK", Integer.toString(rank));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(size));
        env.put("MASTER_ADDR", "127.0.0.1");
        env.put("MASTER_PORT", Integer.toString(port));
        env.put("EP4J_JOB_TOKEN", token);
        env.put("EP4J_STDERR_TTY", "0"); // a rank's stderr is a pipe to launch
        return env;
    }

    /** The JVM of a rank, started as bin/ep4j starts this one: same java, same class path, EP4J_JAVA_OPTS. */
    static List<String> javaCommand(List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Djava.awt.headless=true");
        if (args.get(0).equals("soak")) {
            cmd.add("-XX:NativeMemoryTracking=summary");
        }
        String opts = System.getenv("EP4J_JAVA_OPTS");
        if (opts != null) {
            for (String o : opts.strip().split("\\s+")) {
                if (!o.isEmpty()) {
                    cmd.add(o);
                }
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(args);
        return cmd;
    }

    /** A TCP port nothing listens on now (a later bind can still lose a race; rank 0 then says so). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
