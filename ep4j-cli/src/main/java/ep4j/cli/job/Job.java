package ep4j.cli.job;

import ep4j.GroupSpec;
import ep4j.spi.Rendezvous;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * This process as one rank of a job of one process per rank: the group spec formed from the
 * launcher's variables ({@link GroupSpec#fromEnvironment(Map)}), and, once the group is open,
 * barriers and gathers over the same rendezvous the group joined (rank 0's store). The group
 * owns that rendezvous: use these only while it is open. Keys are prefixed {@code ep4j.cli.},
 * apart from the backends' own, and numbered, so a name can be used again.
 */
public final class Job {
    private final GroupSpec spec;
    private volatile Rendezvous rendezvous;
    private int round;

    private Job(GroupSpec fromEnvironment, String backend) {
        Supplier<Rendezvous> connect = Objects.requireNonNull(fromEnvironment.rendezvous(), "rendezvous");
        String chosen = "auto".equals(backend) ? fromEnvironment.backend() : backend;
        this.spec = GroupSpec.ranks(fromEnvironment.size()).backend(chosen)
                .process(fromEnvironment.processRank(), fromEnvironment.localRank(), () -> {
                    Rendezvous r = connect.get();
                    rendezvous = r;
                    return r;
                });
    }

    /**
     * Whether a launcher started this process as one rank of several: torchrun's (and
     * {@code ep4j launch}'s) {@code WORLD_SIZE}, Open MPI's {@code OMPI_COMM_WORLD_SIZE},
     * {@code EP4J_WORLD_SIZE}, or an srun step of more than one task ({@code SLURM_STEP_ID} with
     * {@code SLURM_NTASKS} above 1; a batch script alone, which Slurm also gives a rank, is not a job).
     */
    public static boolean detected(Map<String, String> env) {
        if (set(env, "WORLD_SIZE") || set(env, "OMPI_COMM_WORLD_SIZE") || set(env, "EP4J_WORLD_SIZE")) {
            return true;
        }
        if (set(env, "SLURM_STEP_ID") && set(env, "SLURM_NTASKS")) {
            try {
                return Integer.parseInt(env.get("SLURM_NTASKS").strip()) > 1;
            } catch (NumberFormatException e) {
                return true; // fromEnvironment names the malformed variable
            }
        }
        return false;
    }

    private static boolean set(Map<String, String> env, String name) {
        String v = env.get(name);
        return v != null && !v.isBlank();
    }

    /**
     * The job described by {@code env}, on {@code backend} ("auto" keeps {@code EP4J_BACKEND}).
     *
     * @throws ep4j.InvalidArgumentException naming a variable that is missing or contradicts another
     */
    public static Job fromEnvironment(Map<String, String> env, String backend) {
        return new Job(GroupSpec.fromEnvironment(env), backend);
    }

    /** The spec to open the group with; opening it joins the rendezvous. */
    public GroupSpec spec() {
        return spec;
    }

    /** This process's rank. */
    public int rank() {
        return spec.processRank();
    }

    /** The job's ranks. */
    public int size() {
        return spec.size();
    }

    /** Every rank reaches {@code name} before any goes on; bounded by {@code timeout}. */
    public void barrier(String name, Duration timeout) {
        joined().barrier(key(name, nextRound()), timeout);
    }

    /**
     * Every rank's {@code mine}, by rank: a put, then a get of every rank's, each bounded by
     * {@code timeout} (a rank that never gets here ends it with the store's timeout, naming it).
     */
    public List<byte[]> allGather(String name, byte[] mine, Duration timeout) {
        Rendezvous rv = joined();
        String base = key(name, nextRound());
        rv.put(base + ".r" + rank(), mine);
        List<byte[]> all = new ArrayList<>(size());
        for (int r = 0; r < size(); r++) {
            all.add(r == rank() ? mine : rv.get(base + ".r" + r, timeout));
        }
        return all;
    }

    private synchronized int nextRound() {
        return round++;
    }

    private static String key(String name, int round) {
        return "ep4j.cli." + name + "." + round;
    }

    private Rendezvous joined() {
        Rendezvous rv = rendezvous;
        if (rv == null) {
            throw new IllegalStateException("the job's group is not open yet: open it with spec() first");
        }
        return rv;
    }
}
