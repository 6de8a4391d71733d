package ep4j.cli.launch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** A rank for the launcher's tests: does what its first argument says, on each rank. */
public final class FakeRank {
    private FakeRank() {
    }

    public static void main(String[] args) throws Exception {
        ParentWatch.start(System.getenv(), System.err);
        int rank = Integer.parseInt(System.getenv("RANK"));
        System.out.println("pid " + ProcessHandle.current().pid());
        System.out.flush();
        switch (args[0]) {
            case "env" -> {
                for (String k : List.of("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                        "MASTER_PORT", "EP4J_RANK", "EP4J_MASTER_PORT", "EP4J_STDERR_TTY")) {
                    System.out.println(k + "=" + System.getenv(k));
                }
                System.out.println("token length " + System.getenv("EP4J_JOB_TOKEN").length());
            }
            case "exit3" -> {
                if (rank == 1) {
                    Thread.sleep(300);
                    System.err.println("failing on purpose");
                    System.exit(3);
                }
                Thread.sleep(Duration.ofSeconds(60));
            }
            case "sigkill" -> {
                if (rank == 1) {
                    new ProcessBuilder("kill", "-KILL", Long.toString(ProcessHandle.current().pid())).start()
                            .waitFor();
                }
                Thread.sleep(Duration.ofSeconds(60));
            }
            case "stubborn" -> {
                // Rank 0 does not end on SIGTERM (its shutdown hook hangs); rank 1 fails once it knows that.
                Path ready = Path.of(args[1]);
                if (rank == 0) {
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                        try {
                            Thread.sleep(Duration.ofSeconds(60));
                        } catch (InterruptedException e) {
                            // ends
                        }
                    }));
                    Files.writeString(ready, "hooked");
                    Thread.sleep(Duration.ofSeconds(60));
                } else {
                    while (!Files.exists(ready)) {
                        Thread.sleep(20);
                    }
                    System.exit(3);
                }
            }
            case "partial" -> {
                System.out.print("no newline at the end");
                System.err.println("to stderr");
                System.exit(0);
            }
            case "sleep" -> Thread.sleep(Duration.ofSeconds(60));
            default -> throw new IllegalArgumentException(args[0]);
        }
    }
}
