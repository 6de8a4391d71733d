package ep4j.cpu;

import ep4j.spi.Closing;
import ep4j.BufferSpec;
import ep4j.DType;
import ep4j.EpBuffers;
import ep4j.EpException;
import ep4j.EpGroup;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import ep4j.check.Checks;
import ep4j.spi.HostMemory;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A group whose ranks are threads of this JVM over host memory. An {@link #abort} is final:
 * every collective waiting on any buffer of the group fails at once with an
 * {@link EpException} naming the cause, and so does every later one (the ranks' call sequences
 * are no longer in step); form a new group to go on.
 */
public final class CpuGroup implements EpGroup {
    private final int size;
    /** The buffers not closed yet (a closed one is forgotten, so allocate/close cycles keep nothing). */
    private final Set<CpuBuffers> buffers = ConcurrentHashMap.newKeySet();
    private volatile Throwable abortCause;
    private volatile boolean closed;

    CpuGroup(int size) {
        this.size = size;
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
        int[] r = new int[size];
        for (int i = 0; i < size; i++) {
            r[i] = i;
        }
        return r;
    }

    @Override
    public EpBuffers allocate(BufferSpec spec) {
        checkOpen();
        if (spec == null) {
            throw new InvalidArgumentException("spec", null, "a BufferSpec");
        }
        CpuBuffers b = new CpuBuffers(this, spec.conclude());
        buffers.add(b);
        return b;
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
        if (rank < 0 || rank >= size) {
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
        for (CpuBuffers b : buffers) {
            b.exchange().wake();
        }
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

    /** Closes every buffer the group allocated; ranks still waiting fail at once. Twice is harmless. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (CpuBuffers b : buffers) {
            b.exchange().wake();
        }
        RuntimeException first = Closing.closeAll(List.copyOf(buffers));
        buffers.clear();
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "CpuGroup[" + size + " ranks" + (closed ? ", closed" : "") + (abortCause != null ? ", aborted" : "") + "]";
    }
}
