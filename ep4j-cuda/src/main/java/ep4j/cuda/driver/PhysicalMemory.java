package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;

/**
 * A physical allocation of the driver's virtual memory management: a
 * {@code CUmemGenericAllocationHandle} from {@code cuMemCreate} (pinned device memory), or one
 * imported from another process's exported file descriptor. It has no address until a
 * {@link MemoryMapping} maps it into an {@link AddressRange}.
 *
 * <p>{@link #close()} releases the handle ({@code cuMemRelease}); the memory itself is freed when
 * the handle is released and every mapping of it is unmapped (in this and every other process),
 * so closing this before its mappings is allowed, but ep4j's owners close mappings first.
 */
public final class PhysicalMemory extends ContextResource implements AutoCloseable {
    private final long handle;
    private final long byteSize;
    private final boolean imported;

    private PhysicalMemory(CudaContext context, long handle, long byteSize, boolean imported) {
        super(context);
        this.handle = handle;
        this.byteSize = byteSize;
        this.imported = imported;
    }

    /**
     * Allocates {@code bytes} of pinned memory on {@code context}'s device, exportable as
     * {@code handleTypes} ({@code CU_MEM_HANDLE_TYPE_*}, e.g. POSIX_FILE_DESCRIPTOR). {@code bytes}
     * must be a positive multiple of the device's minimum granularity ({@link VirtualMemory}).
     * Contents undefined.
     */
    public static PhysicalMemory create(CudaContext context, long bytes, int handleTypes) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "a positive multiple of the allocation granularity");
        }
        int ordinal = context.device().ordinal();
        context.acquire();
        try {
            context.activate();
            MemorySegment scratch = Scratch.get();
            MemorySegment prop = DriverStructs.allocationProp(scratch, ordinal, handleTypes);
            MemorySegment out = scratch.asSlice(64, 8);
            int r;
            try {
                r = (int) Cu.cuMemCreate.invokeExact(out, bytes, prop, 0L);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuMemCreate(" + bytes + " bytes, PINNED on device " + ordinal
                        + ", handle types " + handleTypes + ")");
            }
            return new PhysicalMemory(context, out.get(JAVA_LONG, 0), bytes, false);
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }

    /**
     * Imports the allocation behind {@code fd}, a POSIX file descriptor another process (or this
     * one) got from {@link #exportFd()}; {@code bytes} is the exporter's {@link #byteSize()}. The
     * descriptor stays the caller's to close (it may be closed right after this returns).
     * {@code context} is the importing device's: it stays alive while this handle is open.
     */
    public static PhysicalMemory importFd(CudaContext context, int fd, long bytes) {
        if (fd < 0) {
            throw new InvalidArgumentException("fd", fd, "an open file descriptor from exportFd()");
        }
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "the exporter's allocation size (> 0)");
        }
        context.acquire();
        try {
            context.activate();
            MemorySegment out = Scratch.get();
            int r;
            try {
                r = (int) Cu.cuMemImportFromShareableHandle.invokeExact(out, MemorySegment.ofAddress(fd),
                        CudaConstants.CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuMemImportFromShareableHandle(fd " + fd + ", POSIX_FILE_DESCRIPTOR) on device "
                        + context.device().ordinal());
            }
            return new PhysicalMemory(context, out.get(JAVA_LONG, 0), bytes, true);
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }

    /**
     * A new POSIX file descriptor for this allocation, for another process to
     * {@link #importFd import}: the caller owns it and must close it (after sending it, e.g. over
     * a Unix socket). The allocation must have been created exportable as a file descriptor.
     */
    public int exportFd() {
        ensureOpen();
        context.activate();
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuMemExportToShareableHandle.invokeExact(out, handle,
                    CudaConstants.CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0L);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemExportToShareableHandle(" + this + ", POSIX_FILE_DESCRIPTOR)");
        }
        return out.get(JAVA_INT, 0);
    }

    /** The CUmemGenericAllocationHandle. */
    public long handle() {
        ensureOpen();
        return handle;
    }

    /** Size in bytes (as created, or as the exporter said). */
    public long byteSize() {
        return byteSize;
    }

    /** True when imported from a file descriptor rather than created here. */
    public boolean isImported() {
        return imported;
    }

    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuMemRelease.invokeExact(handle);
    }

    @Override
    String destroyCall() {
        return "cuMemRelease(" + this + ")";
    }

    @Override
    String describe() {
        return "handle " + Native.hex(handle) + ", " + byteSize + " bytes, " + (imported ? "imported on " : "") + device();
    }
}
