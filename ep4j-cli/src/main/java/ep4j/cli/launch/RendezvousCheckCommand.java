package ep4j.cli.launch;

import ep4j.GroupSpec;
import ep4j.cli.Main;
import ep4j.spi.Rendezvous;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code ep4j rendezvous-check} (hidden): this process joins its job's rendezvous as
 * {@link GroupSpec#fromEnvironment()} describes it, meets every rank there, and says so. A
 * diagnostic for launcher variables and the network, with no backend involved.
 */
@Command(name = "rendezvous-check", hidden = true, mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        header = "Check that the processes of a job meet at rank 0's rendezvous store (run under ep4j launch, torchrun, srun or mpirun).",
        description = "Reads the launcher's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, EP4J_JOB_TOKEN; Slurm's, Open MPI's, EP4J_* overrides), joins the store, publishes this process's host and pid, waits at a barrier for every rank, reads what each published, and prints one line.")
public final class RendezvousCheckCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
            description = "How long to wait for the other ranks. Default: ${DEFAULT-VALUE}.")
    double timeoutSeconds;

    @Override
    public Integer call() {
        if (!(timeoutSeconds > 0 && timeoutSeconds <= 86_400)) {
            throw new ParameterException(spec.commandLine(),
                    "--timeout must be more than 0 and at most 86400 seconds, not " + timeoutSeconds);
        }
        Duration timeout = Duration.ofMillis(Math.round(timeoutSeconds * 1000));
        GroupSpec group = GroupSpec.fromEnvironment();
        PrintWriter out = spec.commandLine().getOut();
        try (Rendezvous rv = group.rendezvous().get()) {
            int rank = rv.rank();
            String me = host() + " pid " + ProcessHandle.current().pid();
            rv.put("rendezvous-check/" + rank, me.getBytes(StandardCharsets.UTF_8));
            rv.barrier("rendezvous-check", timeout);
            StringBuilder peers = new StringBuilder();
            for (int r = 0; r < rv.size(); r++) {
                String who = new String(rv.get("rendezvous-check/" + r, timeout), StandardCharsets.UTF_8);
                peers.append(r == 0 ? "" : ", ").append(r).append(": ").append(who);
            }
            out.println("rank " + rank + " of " + rv.size() + " (local rank " + group.localRank() + "), job "
                    + rv.jobId() + ": met every rank (" + peers + ")");
            out.flush();
        }
        return Main.EXIT_OK;
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "unknown-host";
        }
    }
}
