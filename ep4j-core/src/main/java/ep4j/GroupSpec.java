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

    public GroupSpec conclude() {
        if (ranks < 1 || ranks > 1024) {
            throw new InvalidArgumentException("ranks", ranks, "1 to 1024");
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

    @Override
    public String toString() {
        return "GroupSpec[backend=" + backend + ", ranks=" + ranks + "]";
    }
}
