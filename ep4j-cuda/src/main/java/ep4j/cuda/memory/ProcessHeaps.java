package ep4j.cuda.memory;

import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.ipc.FdClient;
import ep4j.cuda.ipc.FdServer;
import ep4j.cuda.ipc.Posix;
import ep4j.process.Liveness;
import ep4j.spi.Closing;
import ep4j.spi.Rendezvous;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The symmetric heaps of a group spread over processes (one process per GPU), as this process
 * sees them: its own rank's, made here and exported as a POSIX file descriptor, and every peer's,
 * imported from the descriptor the peer hands out ({@link FdServer}) and mapped for this
 * process's GPU. Addresses differ from process to process; offsets inside a heap do not. The
 * exchange happens once, when the buffers are created, through the job's rendezvous; with it
 * each rank learns the others' process ids and start times, to tell later whether they live.
 */
public final class ProcessHeaps implements AutoCloseable {
    private final SymmetricMemory[] heaps;
    private final long[] bases;
    private final long[] pids;
    private final long[] starts;
    private volatile boolean closed;

    private ProcessHeaps(SymmetricMemory[] heaps, long[] pids, long[] starts) {
        this.heaps = heaps;
        this.pids = pids;
        this.starts = starts;
        this.bases = new long[heaps.length];
        for (int r = 0; r < heaps.length; r++) {
            bases[r] = heaps[r].address();
        }
    }

    /**
     * Makes this rank's heap of {@code bytes}, exchanges it with every rank of {@code rendezvous}
     * and returns them all. Collective: every rank calls it with the same {@code name} and size.
     *
     * @param context this rank's GPU
     * @param name    distinguishes the buffers of one job (e.g. "buffers-3")
     * @param timeout bounds every wait for a peer
     */
    public static ProcessHeaps exchange(CudaContext context, Rendezvous rendezvous, String name, long bytes,
            Duration timeout) {
        int rank = rendezvous.rank();
        int ranks = rendezvous.size();
        String prefix = "ep4j/" + name + "/";
        SymmetricMemory[] heaps = new SymmetricMemory[ranks];
        long[] pids = new long[ranks];
        long[] starts = new long[ranks];
        pids[rank] = ProcessHandle.current().pid();
        starts[rank] = Liveness.selfStart();
        List<AutoCloseable> made = new ArrayList<>();
        FdServer server = null;
        int exported = -1;
        try {
            heaps[rank] = SymmetricMemory.allocate(context, bytes, List.of(context.device()));
            made.add(heaps[rank]);
            // A secret for the descriptor servers, known only through the job's rendezvous.
            byte[] token;
            if (rank == 0) {
                token = new byte[FdServer.TOKEN_BYTES];
                new SecureRandom().nextBytes(token);
                rendezvous.put(prefix + "token", token);
            } else {
                token = rendezvous.get(prefix + "token", timeout);
            }
            exported = heaps[rank].exportFd();
            Path socket = Path.of(System.getProperty("java.io.tmpdir"),
                    "ep4j-" + rendezvous.jobId() + "-" + name + "-" + rank + ".sock");
            server = FdServer.serve(socket, token, exported);
            rendezvous.put(prefix + "heap/" + rank,
                    (socket + "\n" + heaps[rank].byteSize() + "\n" + pids[rank] + "\n" + starts[rank])
                            .getBytes(StandardCharsets.UTF_8));
            for (int j = 0; j < ranks; j++) {
                if (j == rank) {
                    continue;
                }
                String[] where = new String(rendezvous.get(prefix + "heap/" + j, timeout), StandardCharsets.UTF_8)
                        .split("\n");
                pids[j] = Long.parseLong(where[2]);
                starts[j] = Long.parseLong(where[3]);
                int fd = FdClient.fetch(Path.of(where[0]), token, timeout, "rank " + j + "'s heap");
                try {
                    heaps[j] = SymmetricMemory.importFd(context, fd, Long.parseLong(where[1]));
                    made.add(heaps[j]);
                } finally {
                    Posix.closeFd(fd);
                }
            }
            // Every rank has mapped every heap: the servers and the exported descriptor can go.
            rendezvous.barrier(prefix + "mapped", timeout);
            return new ProcessHeaps(heaps, pids, starts);
        } catch (RuntimeException | Error e) {
            Closing.closeAllInto(e, made.reversed().toArray(AutoCloseable[]::new));
            throw e;
        } finally {
            Closing.closeAll(server);
            if (exported >= 0) {
                Posix.closeFd(exported);
            }
        }
    }

    /** Every rank's heap base in this process. */
    public long[] bases() {
        return bases.clone();
    }

    /** Every rank's process id, by rank. */
    public long[] pids() {
        return pids.clone();
    }

    /** Every rank's process start time ({@link Liveness#selfStart()} there), by rank. */
    public long[] starts() {
        return starts.clone();
    }

    public long byteSize(int rank) {
        return heaps[rank].byteSize();
    }

    public boolean isClosed() {
        return closed;
    }

    /** Unmaps the peers' heaps and frees this rank's (streams that use them must be idle). Twice is harmless. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = Closing.closeAll(heaps);
        if (failure != null) {
            throw failure;
        }
    }
}
