package ep4j.cli.bench;

import ep4j.EpGroup;
import ep4j.cli.job.Job;

/** Picks the {@link Baseline} for a group's backend. */
public final class Baselines {
    private Baselines() {
    }

    public static Baseline forGroup(EpGroup group) {
        return switch (group.backend()) {
            case "cpu" -> new HostCopyBaseline();
            case "cuda" -> new PeerCopyBaseline();
            default -> unavailable("no baseline for backend " + group.backend() + " yet (peer-copy baseline to come)");
        };
    }

    /**
     * The baseline of a job of one process per rank. On the CPU backend on one host the host copy
     * reads the peers' sources from shared memory; the GPU's peer writes are not measured: they
     * are set up from one JVM that drives every GPU (each rank allocates in its peers' memory),
     * and here other processes own the peers' GPUs.
     */
    static Baseline forJob(EpGroup group, Job job, boolean oneHost) {
        return switch (group.backend()) {
            case "cpu" -> oneHost ? HostCopyBaseline.acrossProcesses(job)
                    : unavailable("host-copy baseline not measured: the ranks run on several hosts and share no"
                            + " memory");
            case "cuda" -> unavailable("peer-write baseline not measured with one process per GPU: it is set up"
                    + " from one JVM that drives every GPU (run ep4j bench without a launcher for it)");
            default -> unavailable("no baseline for backend " + group.backend() + " yet");
        };
    }

    /** No baseline: every figure of it is left out (not a number), and {@code why} says so. */
    static Baseline unavailable(String why) {
        return new Baseline() {
            @Override
            public String name() {
                return "none";
            }

            @Override
            public String description() {
                return why;
            }

            @Override
            public boolean measured() {
                return false;
            }

            @Override
            public Copy prepare(EpGroup group, long[][] bytes) {
                return new Copy() {
                    @Override
                    public boolean available() {
                        return false;
                    }

                    @Override
                    public String note() {
                        return why;
                    }

                    @Override
                    public void setUp(int rank) {
                    }

                    @Override
                    public void run(int rank) {
                        throw new IllegalStateException(why);
                    }

                    @Override
                    public void close() {
                    }
                };
            }
        };
    }
}
