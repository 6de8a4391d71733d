package ep4j.cuda.memory;

import ep4j.InvalidArgumentException;
import ep4j.cuda.driver.CudaConstants;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaDevice;
import ep4j.cuda.driver.VirtualMemory;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import ep4j.spi.Closing;

/**
 * The symmetric memory of a group of ranks in one JVM: one {@link SymmetricMemory} per rank, all
 * of the same size, rank r's on {@code contexts[r]}'s device, each readable and writable from
 * every device of the group (devices may repeat: several ranks may share a GPU). Kernels of any
 * rank reach rank r's memory at {@link #base(int) base(r)}; there is no context-wide peer access.
 *
 * <p>Ownership: the heap owns every rank's allocation. {@link #close()} frees them all (going
 * on after a failure; the first is thrown with the others suppressed); the callers must have
 * synchronised every stream that uses them first. Closing twice is harmless; any other use after
 * close throws {@link IllegalStateException}. The contexts stay the caller's (each allocation
 * keeps its context alive until the heap is closed).
 */
public final class SymmetricHeap implements AutoCloseable {
    private final List<SymmetricMemory> ranks;
    private final long byteSize;
    private volatile boolean closed;

    private SymmetricHeap(List<SymmetricMemory> ranks, long byteSize) {
        this.ranks = List.copyOf(ranks);
        this.byteSize = byteSize;
    }

    /**
     * Allocates at least {@code bytes} (> 0) per rank, zero-filled; rank r's on {@code contexts.get(r)}'s
     * device. Every size is the same: {@code bytes} rounded up to a unit that suits every device.
     */
    public static SymmetricHeap allocate(List<CudaContext> contexts, long bytes) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "a positive size in bytes per rank");
        }
        if (contexts == null || contexts.isEmpty()) {
            throw new InvalidArgumentException("contexts", contexts, "one context per rank (at least one)");
        }
        Set<CudaDevice> devices = new LinkedHashSet<>();
        long unit = 1;
        for (int r = 0; r < contexts.size(); r++) {
            CudaContext c = contexts.get(r);
            if (c == null || c.isClosed()) {
                throw new InvalidArgumentException("contexts[" + r + "]", c, "an open context");
            }
            if (devices.add(c.device())) {
                unit = VirtualMemory.unit(unit,
                        VirtualMemory.allocationUnit(c, CudaConstants.CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR));
            }
        }
        long size = VirtualMemory.roundUp(bytes, unit);
        List<SymmetricMemory> made = new ArrayList<>(contexts.size());
        try {
            for (CudaContext c : contexts) {
                made.add(SymmetricMemory.allocate(c, size, devices));
            }
        } catch (RuntimeException | Error e) {
            Closing.closeAllInto(e, made.reversed().toArray(AutoCloseable[]::new));
            throw e;
        }
        return new SymmetricHeap(made, size);
    }

    /** Number of ranks. */
    public int ranks() {
        return ranks.size();
    }

    /** Bytes per rank (the same for every rank). */
    public long byteSize() {
        return byteSize;
    }

    /** The first address of rank {@code rank}'s memory (a CUdeviceptr valid on every device of the group). */
    public long base(int rank) {
        return memory(rank).address();
    }

    /** Every rank's {@link #base(int)}, indexed by rank (a new array). */
    public long[] bases() {
        ensureOpen();
        long[] out = new long[ranks.size()];
        for (int r = 0; r < out.length; r++) {
            out[r] = ranks.get(r).address();
        }
        return out;
    }

    /** Rank {@code rank}'s memory; owned by this heap (do not close it yourself). */
    public SymmetricMemory memory(int rank) {
        ensureOpen();
        if (rank < 0 || rank >= ranks.size()) {
            throw new InvalidArgumentException("rank", rank, "a rank in [0, " + ranks.size() + ")");
        }
        return ranks.get(rank);
    }

    /** Frees every rank's memory; every stream that uses it must have been synchronised. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        RuntimeException failure = Closing.closeAll(ranks.toArray(AutoCloseable[]::new));
        if (failure != null) {
            throw failure;
        }
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "SymmetricHeap[" + ranks.size() + " ranks, " + byteSize + " bytes each" + (closed ? ", closed]" : "]");
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }
}
