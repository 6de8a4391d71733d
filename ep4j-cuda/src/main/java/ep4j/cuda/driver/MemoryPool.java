package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;

/**
 * A device's default memory pool ({@code cuDeviceGetDefaultMemPool}), for stream-ordered
 * allocations: {@link #allocateAsync} and {@link #freeAsync} are queued on a stream like a
 * kernel and, unlike {@code cuMemAlloc}/{@code cuMemFree}, never wait for the device's other
 * work (DESIGN section 3, "No device-wide waits").
 *
 * <p>The pool is the driver's and shared by everything in the process that allocates from the
 * device's default pool (the CUDA runtime's {@code cudaMallocAsync} too): this object borrows it,
 * never destroys it, and only keeps its context alive until {@link #close()}. Attributes set
 * here are the pool's, for every user.
 */
public final class MemoryPool extends ContextResource implements AutoCloseable {
    private final MemorySegment handle;

    private MemoryPool(CudaContext context, MemorySegment handle) {
        super(context);
        this.handle = handle;
    }

    /** The default pool of {@code context}'s device. */
    public static MemoryPool deviceDefault(CudaContext context) {
        context.acquire();
        try {
            context.activate();
            CudaDevice device = context.device();
            if (device.attribute(CudaConstants.CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED) == 0) {
                throw new CudaUnavailableException("device " + device.ordinal() + " (" + device.name()
                        + ") does not support stream-ordered allocation (CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED)");
            }
            MemorySegment out = Scratch.get();
            int r;
            try {
                r = (int) Cu.cuDeviceGetDefaultMemPool.invokeExact(out, device.handle());
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuDeviceGetDefaultMemPool(device " + device.ordinal() + ")");
            }
            return new MemoryPool(context, out.get(ADDRESS, 0));
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }

    /**
     * Allocates {@code bytes} (> 0) from this pool, ordered on {@code stream}
     * ({@code cuMemAllocFromPoolAsync}): work queued on {@code stream} after this may use the
     * returned device pointer; other streams must wait for {@code stream} first. Contents undefined.
     */
    public long allocateAsync(long bytes, CudaStream stream) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "a positive allocation size");
        }
        ensureOpen();
        MemorySegment s = stream.prepare();
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuMemAllocFromPoolAsync.invokeExact(out, bytes, handle, s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemAllocFromPoolAsync(" + bytes + " bytes, " + this + ", " + stream + ")");
        }
        return out.get(JAVA_LONG, 0);
    }

    /**
     * Frees {@code ptr} (from {@link #allocateAsync}) when {@code stream} reaches this point
     * ({@code cuMemFreeAsync}): work queued earlier on {@code stream} may still use it, nothing
     * later on any stream may. The memory goes back to the pool, not to the device.
     */
    public static void freeAsync(long ptr, CudaStream stream) {
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuMemFreeAsync.invokeExact(ptr, s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemFreeAsync(" + Native.hex(ptr) + ", " + stream + ")");
        }
    }

    /**
     * Sets how many bytes of freed memory the pool may keep cached instead of returning them to
     * the device at the next synchronisation ({@code CU_MEMPOOL_ATTR_RELEASE_THRESHOLD}); -1 is
     * UINT64_MAX, "keep everything".
     */
    public void setReleaseThreshold(long bytes) {
        setAttribute(CudaConstants.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, "RELEASE_THRESHOLD", bytes);
    }

    /** {@code CU_MEMPOOL_ATTR_RELEASE_THRESHOLD} in bytes (-1 for UINT64_MAX). */
    public long releaseThreshold() {
        return attribute(CudaConstants.CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, "RELEASE_THRESHOLD");
    }

    /** Bytes of device memory the pool holds now, in use or cached ({@code CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT}). */
    public long reservedBytes() {
        return attribute(CudaConstants.CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, "RESERVED_MEM_CURRENT");
    }

    /** Bytes allocated from the pool and not yet freed ({@code CU_MEMPOOL_ATTR_USED_MEM_CURRENT}). */
    public long usedBytes() {
        return attribute(CudaConstants.CU_MEMPOOL_ATTR_USED_MEM_CURRENT, "USED_MEM_CURRENT");
    }

    /** The CUmemoryPool. */
    public MemorySegment handle() {
        ensureOpen();
        return handle;
    }

    private void setAttribute(int attribute, String name, long value) {
        ensureOpen();
        context.activate();
        MemorySegment v = Scratch.get();
        v.set(JAVA_LONG, 0, value);
        int r;
        try {
            r = (int) Cu.cuMemPoolSetAttribute.invokeExact(handle, attribute, v);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemPoolSetAttribute(" + this + ", CU_MEMPOOL_ATTR_" + name + ", "
                    + Long.toUnsignedString(value) + ")");
        }
    }

    /** A cuuint64_t attribute. */
    private long attribute(int attribute, String name) {
        ensureOpen();
        context.activate();
        MemorySegment v = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuMemPoolGetAttribute.invokeExact(handle, attribute, v);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemPoolGetAttribute(" + this + ", CU_MEMPOOL_ATTR_" + name + ")");
        }
        return v.get(JAVA_LONG, 0);
    }

    /** The pool is borrowed: close() only lets its context go. */
    @Override
    int destroy() {
        return CudaConstants.CUDA_SUCCESS;
    }

    @Override
    String destroyCall() {
        return "(nothing: the default pool of " + device() + " is the driver's)";
    }

    @Override
    String describe() {
        return "default pool " + Native.hex(handle.address()) + ", " + device();
    }
}
