package ep4j.cpu.mp;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.spi.Rendezvous;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A job's store in a directory, for tests that start ranks as child JVMs (the TCP store is
 * another piece of work): a key is a file written whole (written aside, then renamed), a barrier
 * is one file per rank that arrived. Waits poll every millisecond, bounded by their timeout.
 */
final class FileRendezvous implements Rendezvous {
    private final Path dir;
    private final String jobId;
    private final int rank;
    private final int size;

    FileRendezvous(Path dir, String jobId, int rank, int size) {
        this.dir = dir;
        this.jobId = jobId;
        this.rank = rank;
        this.size = size;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public String jobId() {
        return jobId;
    }

    private Path file(String prefix, String key) {
        return dir.resolve(prefix + key.replaceAll("[^A-Za-z0-9.-]", "_"));
    }

    @Override
    public void put(String key, byte[] value) {
        Path f = file("kv.", key);
        Path tmp = file("tmp." + rank + ".", key);
        try {
            if (Files.exists(f)) {
                throw new EpException("rendezvous key '" + key + "' was already written (rank " + rank + ")");
            }
            Files.write(tmp, value);
            Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new EpException("rendezvous put '" + key + "' on rank " + rank + ": " + e, e);
        }
    }

    @Override
    public byte[] get(String key, Duration timeout) {
        Path f = file("kv.", key);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!Files.exists(f)) {
            if (System.nanoTime() - deadline > 0) {
                throw new EpTimeoutException("rendezvous get '" + key + "'", rank, -1, "no rank published it",
                        timeout.toMillis());
            }
            pause();
        }
        try {
            return Files.readAllBytes(f);
        } catch (IOException e) {
            throw new EpException("rendezvous get '" + key + "' on rank " + rank + ": " + e, e);
        }
    }

    @Override
    public void barrier(String name, Duration timeout) {
        try {
            Files.write(file("barrier." + rank + ".", name), new byte[0]);
        } catch (IOException e) {
            throw new EpException("rendezvous barrier '" + name + "' on rank " + rank + ": " + e, e);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<Integer> missing = new ArrayList<>();
            for (int r = 0; r < size; r++) {
                if (!Files.exists(file("barrier." + r + ".", name))) {
                    missing.add(r);
                }
            }
            if (missing.isEmpty()) {
                return;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new EpTimeoutException("rendezvous barrier '" + name + "'", rank, missing.get(0),
                        "ranks " + missing + " did not arrive", timeout.toMillis());
            }
            pause();
        }
    }

    private void pause() {
        try {
            Thread.sleep(1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EpException("interrupted at the rendezvous (rank " + rank + ")", e);
        }
    }

    @Override
    public void close() {
    }
}
