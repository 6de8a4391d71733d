package ep4j;

import ep4j.spi.Rendezvous;
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
