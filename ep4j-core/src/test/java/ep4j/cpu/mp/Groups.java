package ep4j.cpu.mp;

import static org.junit.jupiter.api.Assertions.fail;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.cpu.shm.ShmFiles;
import ep4j.rendezvous.LocalRendezvous;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs one body per rank on a CPU group in two ways: a single-JVM group (ranks are threads of one
 * group), and a group over processes whose "processes" are threads of this JVM, each opening its
 * own multi-process group through one {@link LocalRendezvous} job, so that every byte and word
 * between them goes through files under /dev/shm exactly as between processes.
 */
final class Groups {
    /** No run of these tests may take longer; a hang fails the test instead of the build. */
    static final long BOUND_MILLIS = 60_000;

    private Groups() {
    }

    @FunctionalInterface
    interface Body<T> {
        T run(int rank, EpBuffer buffer) throws Exception;
    }

    /** What one rank's body returned, or how it failed, and when. */
    record Outcome<T>(T value, Throwable failure, long millis) {
        T get() {
            if (failure != null) {
                throw new AssertionError("the rank failed: " + failure, failure);
            }
            return value;
        }
    }

    /** The outcomes of every rank of one job, with the job's id (which names its files). */
    record Run<T>(String jobId, List<Outcome<T>> outcomes) {
        Outcome<T> rank(int r) {
            return outcomes.get(r);
        }
    }

    static <T> List<T> inOneJvm(int ranks, BufferSpec spec, Body<T> body) {
        try (EpGroup g = EpGroup.cpu(ranks); EpBuffers b = g.allocate(spec)) {
            return g.onEachRank(r -> body.run(r, b.rank(r)));
        }
    }

    /** A multi-process spec for rank {@code r} of {@code job}. */
    static GroupSpec processSpec(LocalRendezvous.Job job, int ranks, int r) {
        return GroupSpec.ranks(ranks).backend("cpu").process(r, r, () -> job.rank(r));
    }

    /** Each rank opens its own multi-process group over one job, allocates {@code spec} and runs {@code body}. */
    static <T> Run<T> asProcesses(int ranks, BufferSpec spec, Body<T> body) {
        LocalRendezvous.Job job = new LocalRendezvous.Job(ranks);
        String jobId = job.rank(0).jobId();
        List<Outcome<T>> out = new ArrayList<>();
        Thread[] threads = new Thread[ranks];
        @SuppressWarnings("unchecked")
        Outcome<T>[] got = new Outcome[ranks];
        long start = System.nanoTime();
        for (int r = 0; r < ranks; r++) {
            int rank = r;
            threads[r] = Thread.ofPlatform().name("process-" + r).daemon(true).start(() -> {
                T value = null;
                Throwable failure = null;
                try (EpGroup g = EpGroup.open(processSpec(job, ranks, rank)); EpBuffers b = g.allocate(spec)) {
                    value = body.run(rank, b.rank(rank));
                } catch (Throwable t) {
                    failure = t;
                }
                got[rank] = new Outcome<>(value, failure, (System.nanoTime() - start) / 1_000_000);
            });
        }
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, BOUND_MILLIS - (System.nanoTime() - start) / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
            if (t.isAlive()) {
                fail(t.getName() + " still runs after " + BOUND_MILLIS + " ms: a rank hangs");
            }
        }
        for (Outcome<T> o : got) {
            out.add(o);
        }
        return new Run<>(jobId, out);
    }

    /** The files under the shared-memory directory that belong to job {@code jobId}. */
    static List<Path> files(String jobId) {
        try (Stream<Path> s = Files.list(ShmFiles.dir())) {
            return s.filter(p -> p.getFileName().toString().startsWith(ShmFiles.PREFIX)
                    && p.getFileName().toString().contains("." + jobId + ".")).toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
