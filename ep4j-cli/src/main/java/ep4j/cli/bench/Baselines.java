package ep4j.cli.bench;

import ep4j.EpGroup;

/** Picks the {@link Baseline} for a group's backend. */
public final class Baselines {
    private Baselines() {
    }

    public static Baseline forGroup(EpGroup group) {
        return switch (group.backend()) {
            case "cpu" -> new HostCopyBaseline();
            case "cuda" -> new PeerCopyBaseline();
            default -> unavailable(group.backend());
        };
    }

    static Baseline unavailable(String backend) {
        String why = "no baseline for backend " + backend + " yet (peer-copy baseline to come)";
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
