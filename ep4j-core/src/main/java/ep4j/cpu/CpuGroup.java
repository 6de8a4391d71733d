package ep4j.cpu;

import ep4j.BufferSpec;
import ep4j.DType;
import ep4j.EpBuffers;
import ep4j.EpException;
import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import ep4j.check.Checks;
import ep4j.cpu.control.Doorbell;
import ep4j.cpu.control.Fabric;
import ep4j.cpu.memory.JvmSegments;
import ep4j.cpu.memory.SharedSegments;
import ep4j.cpu.shm.ShmFiles;
import ep4j.cpu.shm.ShmSegments;
import ep4j.spi.Closing;
import ep4j.spi.HostMemory;
import ep4j.spi.Rendezvous;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * A group of the CPU backend: its ranks are threads of this JVM over host memory
 * ({@link #inOneJvm}), or processes of one host, each driving one rank, over files under /dev/shm
 * that every process maps ({@link #overProcesses}). Both run the same protocol over shared
 * segments; only where the segments come from differs.
 *
 * <p>An {@link #abort} is final: every collective waiting on any buffer of the group fails at
 * once with an {@link EpException} naming the cause, and so does every later one; across
 * processes the peers' waits fail too (the abort is marked in shared memory). Form a new group to
 * go on.
 */
public final class CpuGroup implements EpGroup {
    private final int size;
    private final int[] localRanks;
    private final @Nullable Rendezvous rendezvous;
    private final SharedSegments segments;
    private final Doorbell bell;
    /** The buffers not closed yet (a closed one is forgotten, so allocate/close cycles keep nothing). */
    private final Set<CpuBuffers> buffers = ConcurrentHashMap.newKeySet();
    private final Fabric.Group fabric;
    private int allocations;
    private volatile Throwable abortCause;
    private volatile boolean closed;

    private CpuGroup(int size, int[] localRanks, @Nullable Rendezvous rendezvous, SharedSegments segments,
            Doorbell bell) {
        this.size = size;
        this.localRanks = localRanks;
        this.rendezvous = rendezvous;
        this.segments = segments;
        this.bell = bell;
        this.fabric = new Fabric.Group(segments, bell, rendezvous, this::abortCause, this::isClosed);
    }

    /**
     * Every rank a thread of this JVM.
     *
     * @param size the group size
     * @return the group
     */
    static CpuGroup inOneJvm(int size) {
        int[] all = new int[size];
        Arrays.setAll(all, i -> i);
        return new CpuGroup(size, all, null, new JvmSegments(), Doorbell.forThreads());
    }

    /**
     * This process drives rank {@code spec.processRank()}; the other ranks are processes of this
     * host that meet through the spec's rendezvous. Removes first what killed jobs left under
     * /dev/shm.
     *
     * @param spec a concluded multi-process spec
     * @return the group
     */
    static CpuGroup overProcesses(GroupSpec spec) {
        Rendezvous rv = spec.rendezvous().get();
        try {
            if (rv.size() != spec.size()) {
                throw new InvalidArgumentException("rendezvous.size()", rv.size(),
                        spec.size() + " (GroupSpec ranks): the job has another world size");
            }
            if (rv.rank() != spec.processRank()) {
                throw new InvalidArgumentException("rendezvous.rank()", rv.rank(),
                        spec.processRank() + " (GroupSpec process rank)");
            }
            ShmFiles.sweep(ShmFiles.dir());
            return new CpuGroup(spec.size(), new int[] {spec.processRank()}, rv,
                    new ShmSegments(ShmFiles.dir(), rv.jobId()), Doorbell.forProcesses());
        } catch (RuntimeException | Error e) {
            rv.close();
            throw e;
        }
    }

    @Override
    public String backend() {
        return "cpu";
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int[] localRanks() {
        return localRanks.clone();
    }

    /** Whether the ranks are processes (one driven here). */
    boolean isMultiProcess() {
        return rendezvous != null;
    }

    @Override
    public EpBuffers allocate(BufferSpec spec) {
        checkOpen();
        if (spec == null) {
            throw new InvalidArgumentException("spec", null, "a BufferSpec");
        }
        spec.conclude();
        int number;
        synchronized (this) {
            number = allocations++;
        }
        CpuBuffers b = new CpuBuffers(this, spec, number);
        buffers.add(b);
        return b;
    }

    Fabric.Group fabric() {
        return fabric;
    }

    @Override
    public Tensor allocate(int rank, DType dtype, long... shape) {
        checkRank(rank);
        if (dtype == null) {
            throw new InvalidArgumentException("dtype", null, "a DType");
        }
        return HostMemory.tensor(dtype, shape);
    }

    @Override
    public Tensor upload(int rank, Tensor host) {
        checkRank(rank);
        return hostCopy("host", host);
    }

    @Override
    public Tensor download(Tensor tensor) {
        return hostCopy("tensor", tensor);
    }

    private static Tensor hostCopy(String name, Tensor t) {
        Checks.present(name, t);
        Checks.device(name, t, Tensor.HOST);
        Tensor copy = HostMemory.tensor(t.dtype(), t.shape());
        MemorySegment.copy(t.segment(), 0, copy.segment(), 0, t.byteSize());
        return copy;
    }

    private void checkRank(int rank) {
        if (rendezvous != null) {
            if (rank != localRanks[0]) {
                throw new InvalidArgumentException("rank", rank, localRanks[0] + ", the rank this process drives");
            }
        } else if (rank < 0 || rank >= size) {
            throw new InvalidArgumentException("rank", rank, "a rank in [0, " + size + ")");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the cpu group was closed");
        }
    }

    @Override
    public void abort(Throwable cause) {
        synchronized (this) {
            if (abortCause == null) {
                abortCause = cause != null ? cause : new EpException("abort() without a cause");
            }
        }
        String why = String.valueOf(abortCause);
        for (CpuBuffers b : buffers) {
            b.markAborted(why);
        }
        bell.ring();
    }

    /** Every rank's buffer of {@code b} was closed. */
    void forget(CpuBuffers b) {
        buffers.remove(b);
    }

    /** How many allocations are still tracked (not every rank's buffer closed). */
    int trackedBuffers() {
        return buffers.size();
    }

    Throwable abortCause() {
        return abortCause;
    }

    boolean isClosed() {
        return closed;
    }

    /**
     * Closes every buffer the group allocated (ranks still waiting fail at once), then lets go of
     * the group's shared memory (across processes: removes this process's files) and leaves the
     * job's rendezvous. Twice is harmless.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        bell.ring();
        List<AutoCloseable> all = new ArrayList<>(buffers);
        all.add(segments);
        if (rendezvous != null) {
            all.add(rendezvous);
        }
        RuntimeException first = Closing.closeAll(all);
        buffers.clear();
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "CpuGroup[" + size + " ranks" + (rendezvous != null ? ", process rank " + localRanks[0] : "")
                + (closed ? ", closed" : "") + (abortCause != null ? ", aborted" : "") + "]";
    }
}
