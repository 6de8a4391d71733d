package ep4j.cli.bench;

import ep4j.cli.job.Job;
import ep4j.cli.job.ShmBarrier;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongConsumer;

/**
 * The ranks of a job, one process each ({@code ep4j launch}, torchrun, srun, mpirun). On one
 * host they meet at a {@link ShmBarrier} that rank 0 creates and names through the job's
 * rendezvous; its release time is the last arrival's {@link System#nanoTime()}, which every
 * process of the host can compare with its own because on Linux it reads
 * {@code CLOCK_MONOTONIC}, one clock per host: a wall-clock sample is thus "from the last
 * arrival at one barrier to the last arrival at the next", exactly as in one JVM. Across hosts
 * they meet at the rendezvous store's barrier (over TCP, as a note says), and each process times
 * from its own exit of one barrier to its exit of the next. Pooling gathers each process's
 * column of figures through the rendezvous ({@link Job#allGather}).
 */
final class ProcessRanks implements BenchRanks {
    static final String BARRIER_NAME = "the bench's barrier";
    /** Bytes per gather; the store takes values up to 64 KiB. */
    static final int CHUNK = 48 << 10;

    private final Job job;
    private final Duration timeout;
    private final ShmBarrier shm;
    private final int hosts;

    private ProcessRanks(Job job, Duration timeout, ShmBarrier shm, int hosts) {
        this.job = job;
        this.timeout = timeout;
        this.shm = shm;
        this.hosts = hosts;
    }

    /**
     * Meets the other ranks (collective): compares host names, and on one host opens the
     * shared-memory barrier (rank 0 creates it; its file is removed once every rank has mapped it).
     */
    static ProcessRanks open(Job job, Duration timeout) {
        Set<String> hosts = new LinkedHashSet<>();
        for (byte[] h : job.allGather("bench.host", hostKey().getBytes(StandardCharsets.UTF_8), timeout)) {
            hosts.add(new String(h, StandardCharsets.UTF_8));
        }
        if (hosts.size() > 1) {
            return acrossHosts(job, timeout, hosts.size());
        }
        ShmBarrier b = job.rank() == 0 ? ShmBarrier.create(job.size(), 0, BARRIER_NAME) : null;
        try {
            byte[] mine = b != null ? b.path().toString().getBytes(StandardCharsets.UTF_8) : new byte[0];
            byte[] zeros = job.allGather("bench.barrier", mine, timeout).get(0);
            Path path = Path.of(new String(zeros, StandardCharsets.UTF_8));
            if (b == null) {
                b = ShmBarrier.open(path, job.size(), job.rank(), BARRIER_NAME);
            }
            job.barrier("bench.barrier-mapped", timeout);
            b.unlink();
            return new ProcessRanks(job, timeout, b, 1);
        } catch (RuntimeException | Error e) {
            if (b != null) {
                b.close();
            }
            throw e;
        }
    }

    /** Ranks on {@code hosts} hosts: they meet at the rendezvous store's barrier. */
    static ProcessRanks acrossHosts(Job job, Duration timeout, int hosts) {
        return new ProcessRanks(job, timeout, null, hosts);
    }

    /** This host: its name and the kernel's boot id (two containers may share a name, not a boot). */
    static String hostKey() {
        String name;
        try {
            name = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
        } catch (IOException | RuntimeException e) {
            try {
                name = InetAddress.getLocalHost().getHostName();
            } catch (IOException | RuntimeException e2) {
                name = "?";
            }
        }
        try {
            return name + " boot " + Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
        } catch (IOException | RuntimeException e) {
            return name;
        }
    }

    /** Whether every rank runs on this host (so they can share memory). */
    boolean oneHost() {
        return hosts == 1;
    }

    @Override
    public int size() {
        return job.size();
    }

    @Override
    public RankBarrier barrier(LongConsumer onRelease) {
        return new RankBarrier() {
            @Override
            public void await() {
                onRelease.accept(meet());
            }

            @Override
            public void breakAll() {
                ProcessRanks.this.breakAll();
            }
        };
    }

    private long meet() {
        if (shm != null) {
            return shm.await(timeout);
        }
        job.barrier("bench.meet", timeout);
        return System.nanoTime();
    }

    @Override
    public void pool(String what, double[][]... tables) {
        int me = job.rank();
        int count = 0;
        for (double[][] t : tables) {
            count += t.length;
        }
        ByteBuffer mine = ByteBuffer.allocate(count * Double.BYTES);
        for (double[][] t : tables) {
            for (double[] row : t) {
                mine.putDouble(row[me]);
            }
        }
        ByteBuffer[] all = new ByteBuffer[size()];
        for (int r = 0; r < all.length; r++) {
            all[r] = ByteBuffer.allocate(mine.capacity());
        }
        int total = mine.capacity();
        for (int from = 0, chunks = Math.max(1, (total + CHUNK - 1) / CHUNK), c = 0; c < chunks; c++, from += CHUNK) {
            byte[] part = new byte[Math.min(CHUNK, total - from)];
            mine.get(from, part);
            List<byte[]> got = job.allGather("bench.pool", part, timeout);
            for (int r = 0; r < all.length; r++) {
                if (got.get(r).length != part.length) {
                    throw new IllegalStateException("pooling " + what + ": rank " + r + " sent " + got.get(r).length
                            + " bytes of figures, rank " + me + " " + part.length + ": expected the same (every rank"
                            + " must run the same settings)");
                }
                all[r].put(from, got.get(r));
            }
        }
        for (int r = 0; r < all.length; r++) {
            if (r == me) {
                continue;
            }
            int i = 0;
            for (double[][] t : tables) {
                for (double[] row : t) {
                    row[r] = all[r].getDouble(Double.BYTES * i++);
                }
            }
        }
    }

    @Override
    public void breakAll() {
        if (shm != null) {
            shm.breakAll();
        }
    }

    @Override
    public String describe() {
        return size() + " processes, one rank each, " + (shm != null
                ? "on one host, meeting at a spinning barrier in shared memory"
                : "on " + hosts + " hosts, meeting at the rendezvous store's barrier (TCP)");
    }

    @Override
    public List<String> notes() {
        if (shm != null) {
            return List.of("one process per rank on one host: the ranks meet at a spinning barrier in shared memory"
                    + " (/dev/shm); a wall clock runs from the last rank's arrival at one barrier to the last"
                    + " arrival at the next, as System.nanoTime (CLOCK_MONOTONIC, one clock for every process of a"
                    + " host) reads them");
        }
        return List.of("ranks on " + hosts + " hosts: they meet at the rendezvous store's barrier over TCP, so every"
                + " wall time includes a network barrier (tens to hundreds of microseconds), timed on rank 0 from"
                + " leaving one barrier to leaving the next");
    }

    @Override
    public void close() {
        if (shm != null) {
            shm.close();
        }
    }
}
