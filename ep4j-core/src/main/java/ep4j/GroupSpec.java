package ep4j;

/**
 * How to form a group: which backend and how many ranks. Fluent setters, then
 * {@link #conclude()}.
 */
public final class GroupSpec {
    /** Picks CUDA when enough GPUs and the kernels are there, else the CPU backend. */
    public static final String AUTO = "auto";

    private String backend = AUTO;
    private int ranks = 1;
    private int gpus;
    private boolean concluded;

    public static GroupSpec ranks(int ranks) {
        GroupSpec spec = new GroupSpec();
        spec.ranks = ranks;
        return spec;
    }

    /** "auto", "cpu" or "cuda" (any backend on the class path, by name). */
    public GroupSpec backend(String name) {
        if (concluded) {
            throw new IllegalStateException("GroupSpec was concluded and can no longer change");
        }
        this.backend = name;
        return this;
    }

    /**
     * Spreads the ranks over this many GPUs, round robin (rank r on GPU r % gpus); 0, the
     * default, gives each rank its own GPU. Ranks sharing a GPU split its SMs: this runs group
     * sizes beyond the machine, to test them, not to be fast. The CPU backend ignores it.
     */
    public GroupSpec gpus(int gpus) {
        if (concluded) {
            throw new IllegalStateException("GroupSpec was concluded and can no longer change");
        }
        this.gpus = gpus;
        return this;
    }

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

    public String backend() {
        return backend;
    }

    public int size() {
        return ranks;
    }

    /** GPUs the ranks run on: {@link #gpus(int)}, or one per rank. */
    public int gpuCount() {
        return gpus == 0 ? ranks : gpus;
    }

    @Override
    public String toString() {
        return "GroupSpec[backend=" + backend + ", ranks=" + ranks + (gpus == 0 ? "" : ", gpus=" + gpus) + "]";
    }
}
