package ep4j.rendezvous;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.InvalidArgumentException;
import ep4j.spi.Rendezvous;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;

/**
 * A job's store inside one JVM: every rank of the job is a {@link Rendezvous} view of the same
 * {@link Job}. For tests of multi-process code paths without processes, and for launchers that
 * run ranks as threads.
 */
public final class LocalRendezvous implements Rendezvous {
    /** The store of one job, shared by its ranks. */
    public static final class Job {
        private final int size;
        private final String id;
        private final Map<String, byte[]> values = new HashMap<>();
        private final Map<String, TreeSet<Integer>> arrived = new HashMap<>();

        public Job(int size) {
            if (size < 1) {
                throw new InvalidArgumentException("size", size, "at least 1 rank");
            }
            this.size = size;
            this.id = "local-" + UUID.randomUUID().toString().substring(0, 8);
        }

        /** The view of rank {@code rank}. */
        public Rendezvous rank(int rank) {
            if (rank < 0 || rank >= size) {
                throw new InvalidArgumentException("rank", rank, "0 to " + (size - 1));
            }
            return new LocalRendezvous(this, rank);
        }
    }

    private final Job job;
    private final int rank;

    private LocalRendezvous(Job job, int rank) {
        this.job = job;
        this.rank = rank;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return job.size;
    }

    @Override
    public String jobId() {
        return job.id;
    }

    @Override
    public void put(String key, byte[] value) {
        synchronized (job) {
            if (job.values.putIfAbsent(key, value.clone()) != null) {
                throw new EpException("rendezvous key '" + key + "' was already written (rank " + rank + ")");
            }
            job.notifyAll();
        }
    }

    @Override
    public byte[] get(String key, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (job) {
            while (!job.values.containsKey(key)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new EpTimeoutException("rendezvous get '" + key + "'", rank, -1, "no rank published it",
                            timeout.toMillis());
                }
                waitNanos(left);
            }
            return job.values.get(key).clone();
        }
    }

    @Override
    public void barrier(String name, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (job) {
            TreeSet<Integer> in = job.arrived.computeIfAbsent(name, k -> new TreeSet<>());
            in.add(rank);
            job.notifyAll();
            while (in.size() < job.size) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    TreeSet<Integer> missing = new TreeSet<>();
                    for (int r = 0; r < job.size; r++) {
                        if (!in.contains(r)) {
                            missing.add(r);
                        }
                    }
                    throw new EpTimeoutException("rendezvous barrier '" + name + "'", rank, missing.first(),
                            "ranks " + missing + " did not arrive", timeout.toMillis());
                }
                waitNanos(left);
            }
        }
    }

    private void waitNanos(long nanos) {
        try {
            job.wait(Math.max(1, nanos / 1_000_000), 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EpException("interrupted while waiting at the rendezvous (rank " + rank + ")", e);
        }
    }

    @Override
    public void close() {
    }
}
