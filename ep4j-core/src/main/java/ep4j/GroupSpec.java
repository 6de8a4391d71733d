package ep4j;

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
        return "GroupSpec[backend=" + backend + ", ranks=" + ranks + (gpus == 0 ? "" : ", gpus=" + gpus) + "]";
    }
}
