package ep4j.cuda.memory;

import ep4j.AllocationException;
import ep4j.DType;
import ep4j.Tensor;
import ep4j.cuda.driver.CudaConstants;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaException;
import ep4j.cuda.driver.DeviceMemory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A caching allocator for one device: blocks freed by closing a result go back to a per-size
 * free list instead of {@code cuMemFree} (which synchronizes the device and costs
 * milliseconds). Reuse is stream-ordered on the rank's communication stream, where every ep4j
 * operation of the rank runs. Sizes round up to 2 MiB above 1 MiB, to 256 bytes below.
 */
public final class DevicePool implements AutoCloseable {
    private final CudaContext context;
    private final Map<Long, ArrayDeque<DeviceMemory>> free = new HashMap<>();
    private final List<DeviceMemory> all = new ArrayList<>();
    private boolean closed;
    private long allocations;
    private long reuses;

    public DevicePool(CudaContext context) {
        this.context = context;
    }

    static long bucket(long bytes) {
        long unit = bytes > (1L << 20) ? (2L << 20) : 256;
        return Math.max(unit, (bytes + unit - 1) / unit * unit);
    }

    /** A block of at least {@code bytes}; contents undefined. An out-of-memory GPU is an {@link AllocationException}. */
    public synchronized DeviceMemory take(long bytes) {
        if (closed) {
            throw new IllegalStateException("device pool of " + context + " was closed");
        }
        long size = bucket(bytes);
        ArrayDeque<DeviceMemory> q = free.get(size);
        if (q != null && !q.isEmpty()) {
            reuses++;
            return q.pop();
        }
        DeviceMemory m;
        try {
            m = DeviceMemory.allocate(context, size);
        } catch (CudaException e) {
            if (e.result() == CudaConstants.CUDA_ERROR_OUT_OF_MEMORY) {
                throw new AllocationException("a result block of " + context + " (the pool holds " + stats() + ")",
                        size, context.device().ordinal(), e);
            }
            throw e;
        }
        allocations++;
        all.add(m);
        return m;
    }

    public synchronized void give(DeviceMemory m) {
        if (closed) {
            return;
        }
        free.computeIfAbsent(m.byteSize(), k -> new ArrayDeque<>()).push(m);
    }

    /** "N allocations, M reuses": how well the cache works. */
    public synchronized String stats() {
        return allocations + " device allocations, " + reuses + " reuses, " + all.size() + " blocks held";
    }

    /** A tensor on this device whose close returns its memory here. */
    public Tensor tensor(DType dtype, long... shape) {
        long bytes = dtype.byteSize();
        for (long s : shape) {
            bytes = Math.multiplyExact(bytes, s);
        }
        DeviceMemory m = take(Math.max(bytes, 1));
        return Tensor.owned(null, m.address(), context.device().ordinal(), dtype, () -> give(m), shape);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (DeviceMemory m : all) {
            m.close();
        }
        all.clear();
        free.clear();
    }
}
