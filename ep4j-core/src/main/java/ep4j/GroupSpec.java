package ep4j;

import ep4j.rendezvous.JobEnvironment;
import ep4j.rendezvous.TcpRendezvous;
import ep4j.spi.Rendezvous;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * How to form a group ({@link EpGroup#open}): which backend and how many ranks. Fluent setters,
 * then {@link #conclude()}; a concluded spec no longer changes.
 *
 * <pre>{@code EpGroup.open(GroupSpec.ranks(8).gpus(2).backend("cuda"))}</pre>
 */
public final class GroupSpec {
    /** Picks CUDA when enough GPUs and the kernels are there, else the CPU backend. */
    public static final String AUTO = "auto";

    private String backend = AUTO;
    private int ranks = 1;
    private int gpus;
    private int processRank = -1;
    private int localRank = -1;
    private @Nullable Supplier<Rendezvous> rendezvous;
    private boolean concluded;

    private GroupSpec() {
    }

    /**
     * A group of {@code ranks} ranks on the "auto" backend.
     *
     * @param ranks 1 to 1024 (checked by {@link #conclude()})
     * @return a new spec
     */
    public static GroupSpec ranks(int ranks) {
        GroupSpec spec = new GroupSpec();
        spec.ranks = ranks;
        return spec;
    }

    /**
     * The group of a job of one process per GPU, from the variables its launcher set in this
     * process's environment ({@link System#getenv()}); see {@link #fromEnvironment(Map)}.
     *
     * @return a multi-process spec: this process's rank, of the job's size, on {@code EP4J_BACKEND}
     * @throws InvalidArgumentException naming the variable that is missing, malformed or
     *                                  contradicts another, its value and what was expected
     */
    public static GroupSpec fromEnvironment() {
        return fromEnvironment(System.getenv());
    }

    /**
     * The group of a job of one process per GPU, from a launcher's variables:
     * <ul>
     * <li>torchrun: {@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE},
     *     {@code MASTER_ADDR}, {@code MASTER_PORT} (so does {@code ep4j launch});</li>
     * <li>Open MPI: {@code OMPI_COMM_WORLD_RANK}, {@code OMPI_COMM_WORLD_SIZE},
     *     {@code OMPI_COMM_WORLD_LOCAL_RANK}, {@code OMPI_COMM_WORLD_LOCAL_SIZE};</li>
     * <li>Slurm ({@code srun}): {@code SLURM_PROCID}, {@code SLURM_NTASKS}, {@code SLURM_LOCALID};
     *     only when neither torchrun's nor Open MPI's variables are set, since those launchers
     *     run inside a Slurm allocation and inherit its variables;</li>
     * <li>on top, each of {@code EP4J_RANK}, {@code EP4J_WORLD_SIZE}, {@code EP4J_LOCAL_RANK},
     *     {@code EP4J_LOCAL_WORLD_SIZE}, {@code EP4J_MASTER_ADDR}, {@code EP4J_MASTER_PORT} replaces
     *     the launcher's value; {@code EP4J_BACKEND} names the backend ("auto" by default).</li>
     * </ul>
     * Open MPI and Slurm set no master address: {@code MASTER_ADDR} and {@code MASTER_PORT} (or
     * the {@code EP4J_} ones) must be set on every rank. When the group forms, rank 0 serves the
     * job's rendezvous store on that port (on loopback unless {@code EP4J_BIND_ADDRESS} says
     * otherwise) and every rank connects to it, within {@code EP4J_RENDEZVOUS_TIMEOUT} seconds
     * (300 by default). Every message carries the job token {@code EP4J_JOB_TOKEN}, required
     * unless the store stays on loopback (where a weak one is derived). Nothing is connected here.
     *
     * @param env the environment to read
     * @return a multi-process spec ({@link #process}): this process's rank, of the job's size
     * @throws InvalidArgumentException naming the variable that is missing, malformed or
     *                                  contradicts another, its value and what was expected, e.g.
     *                                  {@code RANK = 3: expected a rank below WORLD_SIZE=2 (0 to 1)}
     */
    public static GroupSpec fromEnvironment(Map<String, String> env) {
        JobEnvironment job = JobEnvironment.parse(env);
        return ranks(job.worldSize()).backend(job.backend())
                .process(job.rank(), job.localRank(), () -> TcpRendezvous.connect(job));
    }

    /**
     * The backend, by name.
     *
     * @param name {@link #AUTO}, "cpu" or "cuda" (any backend found, by name)
     * @return this spec
     * @throws IllegalStateException when the spec was concluded
     */
    public GroupSpec backend(String name) {
        if (concluded) {
            throw new IllegalStateException("GroupSpec was concluded and can no longer change");
        }
        this.backend = name;
        return this;
    }

    /**
     * Spreads the ranks over this many GPUs, round robin (rank r on GPU r % gpus). Ranks sharing
     * a GPU split its SMs: this runs group sizes beyond the machine, to test them, not to be
     * fast. The CPU backend ignores it.
     *
     * @param gpus 0, the default, to give each rank its own GPU; else 1 to the rank count
     * @return this spec
     * @throws IllegalStateException when the spec was concluded
     */
    public GroupSpec gpus(int gpus) {
        if (concluded) {
            throw new IllegalStateException("GroupSpec was concluded and can no longer change");
        }
        this.gpus = gpus;
        return this;
    }

    /**
     * Makes this a group spread over processes, one rank each (one process per GPU, as
     * torchrun, Slurm or mpirun start them): this process drives rank {@code rank} of
     * {@link #size()} ranks, and the processes meet through {@code rendezvous} while the group
     * and its buffers are set up.
     *
     * @param rank       this process's rank, 0 to {@code size() - 1}
     * @param localRank  its rank among the processes of this host (the GPU it uses), {@code >= 0}
     * @param rendezvous connects to the job's store when the backend forms the group (called once)
     * @return this spec
     * @throws IllegalStateException when the spec was concluded
     */
    public GroupSpec process(int rank, int localRank, Supplier<Rendezvous> rendezvous) {
        if (concluded) {
            throw new IllegalStateException("GroupSpec was concluded and can no longer change");
        }
        this.processRank = rank;
        this.localRank = localRank;
        this.rendezvous = Objects.requireNonNull(rendezvous, "rendezvous");
        return this;
    }

    /**
     * Whether the ranks are spread over processes ({@link #process}).
     *
     * @return true for one rank per process
     */
    public boolean isMultiProcess() {
        return rendezvous != null;
    }

    /**
     * The rank this process drives, in a multi-process group.
     *
     * @return the rank, or -1 when one process drives every rank
     */
    public int processRank() {
        return processRank;
    }

    /**
     * This process's rank among those of its host (which GPU it uses), in a multi-process group.
     *
     * @return the local rank, or -1 when one process drives every rank
     */
    public int localRank() {
        return localRank;
    }

    /**
     * How this process reaches the job's store, in a multi-process group.
     *
     * @return the connector, or null when one process drives every rank
     */
    public @Nullable Supplier<Rendezvous> rendezvous() {
        return rendezvous;
    }

    /**
     * Validates every field and freezes the spec; twice is harmless.
     *
     * @return this spec
     * @throws InvalidArgumentException naming the first field out of range
     */
    public GroupSpec conclude() {
        if (ranks < 1 || ranks > 1024) {
            throw new InvalidArgumentException("ranks", ranks, "1 to 1024");
        }
        if (gpus < 0 || gpus > ranks) {
            throw new InvalidArgumentException("gpus", gpus, "0 (one GPU per rank) to ranks (" + ranks + ")");
        }
        if (backend == null || backend.isBlank()) {
            throw new InvalidArgumentException("backend", backend, "\"auto\", \"cpu\" or \"cuda\"");
        }
        if (rendezvous != null && (processRank < 0 || processRank >= ranks)) {
            throw new InvalidArgumentException("processRank", processRank, "0 to ranks - 1 (" + (ranks - 1) + ")");
        }
        if (rendezvous != null && localRank < 0) {
            throw new InvalidArgumentException("localRank", localRank, "a rank >= 0 among this host's processes");
        }
        concluded = true;
        return this;
    }

    /**
     * The backend's name.
     *
     * @return {@link #AUTO} or a backend name
     */
    public String backend() {
        return backend;
    }

    /**
     * The number of ranks.
     *
     * @return {@code R}
     */
    public int size() {
        return ranks;
    }

    /**
     * The GPUs the ranks run on: {@link #gpus(int)}, or one per rank.
     *
     * @return the GPU count
     */
    public int gpuCount() {
        return gpus == 0 ? ranks : gpus;
    }

    /**
     * Every field, for messages and logs.
     *
     * @return a one-line description
     */
    @Override
    public String toString() {
        return "GroupSpec[backend=" + backend + ", ranks=" + ranks + (gpus == 0 ? "" : ", gpus=" + gpus)
                + (rendezvous == null ? "" : ", process rank " + processRank + " (local " + localRank + ")") + "]";
    }
}
