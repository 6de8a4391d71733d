package ep4j.cli.job;

import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The {@code --job} / {@code --no-job} option that bench, replay and soak share (a picocli mixin).
 * Left out, a command is one rank of a job when a launcher's variables say so ({@link Job#detected}).
 */
public final class JobOption {
    @Option(names = "--job", negatable = true, description = "Run as one rank of a job of one process per rank"
            + " (ep4j launch, torchrun, srun, mpirun), the group formed from the launcher's variables;"
            + " --no-job runs every rank in this JVM. Default: a job when WORLD_SIZE, OMPI_COMM_WORLD_SIZE or"
            + " EP4J_WORLD_SIZE is set, or srun started this step with more than one task.")
    Boolean job;

    /** Whether this run is one rank of a job: as asked, else as detected in {@code env}. */
    public boolean inJob(Map<String, String> env) {
        return job != null ? job : Job.detected(env);
    }

    /** Whether {@code --job} or {@code --no-job} was given. */
    public boolean given() {
        return job != null;
    }
}
