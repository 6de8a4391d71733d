package ep4j.cli.job;

import ep4j.EpGroup;
import java.io.IOException;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * A job of two ranks inside one test JVM: each rank a thread with its own {@link Job} (from
 * torchrun's variables, a free port on loopback) and its own open CPU group, as two processes
 * would have them.
 */
public final class TwoRanks {
    /** What one rank does while its group is open. */
    @FunctionalInterface
    public interface Task<T> {
        T run(Job job, EpGroup group) throws Exception;
    }

    private TwoRanks() {
    }

    /** Runs {@code task} on both ranks; each result or failure, by rank. */
    public static <T> List<Future<T>> run(Task<T> task) throws IOException, InterruptedException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<T>> out = new ArrayList<>();
            for (int rank = 0; rank < 2; rank++) {
                Map<String, String> env = Map.of("RANK", Integer.toString(rank), "WORLD_SIZE", "2", "LOCAL_RANK",
                        Integer.toString(rank), "LOCAL_WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT",
                        Integer.toString(port), "EP4J_BACKEND", "cpu", "EP4J_RENDEZVOUS_TIMEOUT", "20");
                out.add(pool.submit(() -> {
                    Job job = Job.fromEnvironment(env, "cpu");
                    try (EpGroup group = EpGroup.open(job.spec())) {
                        return task.run(job, group);
                    }
                }));
            }
            for (Future<T> f : out) {
                try {
                    f.get(60, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    // the caller looks at it
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new AssertionError("a rank did not finish within 60 s", e);
                }
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }
}
