package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * Page-locked host memory, mapped into every device's address space ({@code PORTABLE | DEVICEMAP}):
 * fast async copies, and flags or counters that kernels write and the host polls without a copy.
 * Zeroed on allocation.
 *
 * <p>{@link #segment()} dies with this object: using it after {@link #close()} throws instead of
 * touching freed memory. Memory that a kernel writes while the host reads must be read with
 * the volatile accessors here (or a VarHandle with acquire semantics); plain reads may be hoisted
 * out of a polling loop by the JIT.
 */
public final class PinnedHostMemory extends ContextResource implements AutoCloseable {
    private static final VarHandle INT = JAVA_INT.varHandle();
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    private final MemorySegment raw;
    private final Arena arena;
    private final MemorySegment segment;
    private final long devicePointer;

    private PinnedHostMemory(CudaContext context, MemorySegment raw, Arena arena, MemorySegment segment,
            long devicePointer) {
        super(context);
        this.raw = raw;
        this.arena = arena;
        this.segment = segment;
        this.devicePointer = devicePointer;
    }

    /** Allocates {@code bytes} (> 0) of mapped, page-locked host memory. */
    @SuppressWarnings("restricted") // gives the driver's allocation its size and lifetime
    public static PinnedHostMemory allocate(CudaContext context, long bytes) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "a positive allocation size");
        }
        context.acquire();
        MemorySegment raw = null;
        try {
            context.activate();
            MemorySegment out = Scratch.get();
            int flags = CudaConstants.CU_MEMHOSTALLOC_PORTABLE | CudaConstants.CU_MEMHOSTALLOC_DEVICEMAP;
            int r;
            try {
                r = (int) Cu.cuMemHostAlloc.invokeExact(out, bytes, flags);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuMemHostAlloc(" + bytes + " bytes, PORTABLE|DEVICEMAP)");
            }
            raw = out.get(ADDRESS, 0);
            try {
                r = (int) Cu.cuMemHostGetDevicePointer.invokeExact(out, raw, 0);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuMemHostGetDevicePointer_v2(" + Native.hex(raw.address()) + ")");
            }
            long devicePointer = out.get(JAVA_LONG, 0);
            Arena arena = Arena.ofShared();
            MemorySegment segment = raw.reinterpret(bytes, arena, null);
            segment.fill((byte) 0);
            return new PinnedHostMemory(context, raw, arena, segment, devicePointer);
        } catch (RuntimeException | Error e) {
            if (raw != null) {
                freeHost(raw);
            }
            context.release();
            throw e;
        }
    }

    /** The host view, {@link #byteSize()} bytes; invalid after close(). */
    public MemorySegment segment() {
        ensureOpen();
        return segment;
    }

    /** The address kernels use for this memory (equal to the host address on UVA systems). */
    public long devicePointer() {
        ensureOpen();
        return devicePointer;
    }

    public long byteSize() {
        return segment.byteSize();
    }

    public int getIntVolatile(long offset) {
        return (int) INT.getVolatile(segment, offset);
    }

    public void setIntVolatile(long offset, int value) {
        INT.setVolatile(segment, offset, value);
    }

    public long getLongVolatile(long offset) {
        return (long) LONG.getVolatile(segment, offset);
    }

    public void setLongVolatile(long offset, long value) {
        LONG.setVolatile(segment, offset, value);
    }

    /** close() ends {@link #segment()}, then frees the memory: kernels must no longer use it, nor threads read it. */
    @Override
    void beforeDestroy() {
        arena.close();
    }

    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuMemFreeHost.invokeExact(raw);
    }

    @Override
    String destroyCall() {
        return freeHostCall(raw);
    }

    @Override
    String describe() {
        return Native.hex(raw.address()) + ", " + segment.byteSize() + " bytes";
    }

    private static void freeHost(MemorySegment raw) {
        int r;
        try {
            r = (int) Cu.cuMemFreeHost.invokeExact(raw);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (!Native.releasedOk(r)) {
            throw Driver.failure(r, freeHostCall(raw));
        }
    }

    private static String freeHostCall(MemorySegment raw) {
        return "cuMemFreeHost(" + Native.hex(raw.address()) + ")";
    }
}
