package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.OptionalInt;

/**
 * Device memory from {@code cuMemAlloc}, freed on {@link #close()} (work still queued on it must
 * have finished: synchronise first); plus static copies and fills on raw device pointers, for
 * memory ep4j does not own (tensor views).
 *
 * <p>Naming: instance {@code upload}/{@code download} take an offset into this allocation; the
 * static {@code copyFromHost}/{@code copyToHost} take a raw device pointer.
 *
 * <p>Synchronous methods return when the data has arrived. Async methods are ordered on the
 * given stream only: the host segment must stay alive (and unchanged, for uploads) until the
 * stream has passed the copy, and only page-locked memory ({@link PinnedHostMemory}) makes the
 * copy truly asynchronous. Host segments for async copies must be native; synchronous copies
 * also take heap segments (staged through native memory).
 *
 * <p>All pointers are in the unified virtual address space, so copies between devices work too
 * (directly over NVLink/PCIe once {@link CudaContext#enablePeerAccess} was called).
 */
public final class DeviceMemory extends DeviceRange implements AutoCloseable {

    private DeviceMemory(CudaContext context, long address, long byteSize) {
        super(context, address, byteSize);
    }

    /** Allocates {@code bytes} (> 0) of device memory in {@code context}; contents undefined. */
    public static DeviceMemory allocate(CudaContext context, long bytes) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "a positive allocation size");
        }
        context.acquire();
        try {
            context.activate();
            MemorySegment out = Scratch.get();
            int r;
            try {
                r = (int) Cu.cuMemAlloc.invokeExact(out, bytes);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuMemAlloc_v2(" + bytes + " bytes) on device "
                        + context.device().ordinal());
            }
            return new DeviceMemory(context, out.get(JAVA_LONG, 0), bytes);
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }


    /** Copies all of {@code src} to {@code [dstOffset, dstOffset + src.byteSize())}. */
    public void upload(MemorySegment src, long dstOffset) {
        ensureOpen();
        checkRange("dstOffset", dstOffset, src.byteSize());
        uploadRaw(context, src, address + dstOffset);
    }

    /** Fills all of {@code dst} from {@code [srcOffset, srcOffset + dst.byteSize())}. */
    public void download(long srcOffset, MemorySegment dst) {
        ensureOpen();
        checkRange("srcOffset", srcOffset, dst.byteSize());
        downloadRaw(context, address + srcOffset, dst);
    }

    public void uploadAsync(MemorySegment src, long dstOffset, CudaStream stream) {
        ensureOpen();
        checkRange("dstOffset", dstOffset, src.byteSize());
        copyFromHostAsync(src, address + dstOffset, stream);
    }

    public void downloadAsync(long srcOffset, MemorySegment dst, CudaStream stream) {
        ensureOpen();
        checkRange("srcOffset", srcOffset, dst.byteSize());
        copyToHostAsync(address + srcOffset, dst, stream);
    }

    /** Sets every byte to {@code value}; returns when done. */
    public void fill(byte value) {
        ensureOpen();
        context.activate();
        int r;
        try {
            r = (int) Cu.cuMemsetD8.invokeExact(address, value, byteSize);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemsetD8_v2(" + Native.hex(address) + ", " + byteSize + " bytes)");
        }
        syncLegacyStream("cuMemsetD8_v2");
    }

    public void fillAsync(byte value, CudaStream stream) {
        ensureOpen();
        fillAsync(address, value, byteSize, stream);
    }

    /** Frees the memory. Work still queued on it must have finished (synchronise first). */
    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuMemFree.invokeExact(address);
    }

    @Override
    String destroyCall() {
        return "cuMemFree_v2(" + Native.hex(address) + ")";
    }

    @Override
    String describe() {
        return Native.hex(address) + ", " + byteSize + " bytes, " + device();
    }

    private void checkRange(String name, long offset, long length) {
        if (offset < 0 || offset > byteSize - length) {
            throw new InvalidArgumentException(name, offset, "an offset with offset + " + length
                    + " bytes <= " + byteSize + " (the size of " + this + ")");
        }
    }

    // ---- raw pointers ----

    /** Device-to-device copy of {@code bytes}, ordered on {@code stream}; also between peer devices. */
    public static void copy(long dstPtr, long srcPtr, long bytes, CudaStream stream) {
        checkBytes(bytes);
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuMemcpyDtoDAsync.invokeExact(dstPtr, srcPtr, bytes, s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemcpyDtoDAsync_v2(dst " + Native.hex(dstPtr) + ", src "
                    + Native.hex(srcPtr) + ", " + bytes + " bytes)");
        }
    }

    /** Device-to-device copy in {@code context}; returns when done. */
    public static void copy(CudaContext context, long dstPtr, long srcPtr, long bytes) {
        checkBytes(bytes);
        context.ensureOpen();
        context.activate();
        int r;
        try {
            r = (int) Cu.cuMemcpyDtoD.invokeExact(dstPtr, srcPtr, bytes);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemcpyDtoD_v2(dst " + Native.hex(dstPtr) + ", src "
                    + Native.hex(srcPtr) + ", " + bytes + " bytes)");
        }
        syncLegacyStream("cuMemcpyDtoD_v2");
    }

    /** Zeroes {@code bytes} at {@code ptr}, ordered on {@code stream}. */
    public static void zeroAsync(long ptr, long bytes, CudaStream stream) {
        if ((ptr & 3) == 0 && (bytes & 3) == 0) {
            fillInt32Async(ptr, 0, bytes >>> 2, stream);
        } else {
            fillAsync(ptr, (byte) 0, bytes, stream);
        }
    }

    /** Sets {@code bytes} bytes at {@code ptr} to {@code value}, ordered on {@code stream}. */
    public static void fillAsync(long ptr, byte value, long bytes, CudaStream stream) {
        checkBytes(bytes);
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuMemsetD8Async.invokeExact(ptr, value, bytes, s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemsetD8Async(" + Native.hex(ptr) + ", " + bytes + " bytes)");
        }
    }

    /** Sets {@code count} 32-bit words at {@code ptr} (4-byte aligned) to {@code value}, ordered on {@code stream}. */
    public static void fillInt32Async(long ptr, int value, long count, CudaStream stream) {
        checkBytes(count);
        if ((ptr & 3) != 0) {
            throw new InvalidArgumentException("ptr", Native.hex(ptr), "a 4-byte aligned device pointer");
        }
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuMemsetD32Async.invokeExact(ptr, value, count, s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemsetD32Async(" + Native.hex(ptr) + ", " + count + " words)");
        }
    }

    /** Copies {@code src} to device pointer {@code ptr}, in whichever context owns {@code ptr}; returns when done. */
    public static void copyFromHost(MemorySegment src, long ptr) {
        uploadRaw(null, src, ptr);
    }

    /** Fills {@code dst} from device pointer {@code ptr}, in whichever context owns {@code ptr}. */
    public static void copyToHost(long ptr, MemorySegment dst) {
        downloadRaw(null, ptr, dst);
    }

    /**
     * Copies {@code src} to {@code ptr} with {@code context} current; returns when done. For memory
     * whose owning context the driver does not report (virtual memory mappings, cuMemCreate).
     */
    public static void copyFromHost(CudaContext context, MemorySegment src, long ptr) {
        uploadRaw(context, src, ptr);
    }

    /** Fills {@code dst} from {@code ptr} with {@code context} current; returns when done. */
    public static void copyToHost(CudaContext context, long ptr, MemorySegment dst) {
        downloadRaw(context, ptr, dst);
    }

    /** Copies {@code src} to device pointer {@code ptr}, ordered on {@code stream}; {@code src} must be native. */
    public static void copyFromHostAsync(MemorySegment src, long ptr, CudaStream stream) {
        requireNative("src", src);
        long n = src.byteSize();
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuMemcpyHtoDAsync.invokeExact(ptr, src, n, s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemcpyHtoDAsync_v2(dst " + Native.hex(ptr) + ", " + n + " bytes)");
        }
    }

    /** Fills {@code dst} from device pointer {@code ptr}, ordered on {@code stream}; {@code dst} must be native. */
    public static void copyToHostAsync(long ptr, MemorySegment dst, CudaStream stream) {
        requireNative("dst", dst);
        long n = dst.byteSize();
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuMemcpyDtoHAsync.invokeExact(dst, ptr, n, s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemcpyDtoHAsync_v2(src " + Native.hex(ptr) + ", " + n + " bytes)");
        }
    }

    /** The ordinal of the device that owns {@code ptr}, or empty when it is no CUDA pointer. */
    public static OptionalInt deviceOrdinalOf(long ptr) {
        Driver.require();
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuPointerGetAttribute.invokeExact(out, CudaConstants.CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, ptr);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r == CudaConstants.CUDA_ERROR_INVALID_VALUE) {
            return OptionalInt.empty();
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuPointerGetAttribute(DEVICE_ORDINAL, " + Native.hex(ptr) + ")");
        }
        return OptionalInt.of(out.get(JAVA_INT, 0));
    }

    // ---- helpers ----

    /** With no context given, use the one that owns the pointer: any thread can then copy any pointer. */
    private static void activateFor(CudaContext context, long ptr) {
        if (context != null) {
            context.activate();
            return;
        }
        Driver.require();
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuPointerGetAttribute.invokeExact(out, CudaConstants.CU_POINTER_ATTRIBUTE_CONTEXT, ptr);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuPointerGetAttribute(CONTEXT, " + Native.hex(ptr)
                    + "): not a device pointer?");
        }
        MemorySegment ctx = out.get(ADDRESS, 0);
        try {
            r = (int) Cu.cuCtxSetCurrent.invokeExact(ctx);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        Driver.check(r, "cuCtxSetCurrent(context of " + Native.hex(ptr) + ")");
    }

    private static void uploadRaw(CudaContext context, MemorySegment src, long ptr) {
        long n = src.byteSize();
        if (n == 0) {
            return;
        }
        activateFor(context, ptr);
        if (src.isNative()) {
            uploadNative(src, ptr);
        } else {
            try (Arena arena = Arena.ofConfined()) {
                uploadNative(arena.allocate(n, 16).copyFrom(src), ptr);
            }
        }
        // From pageable memory the call may return before the DMA lands; non-blocking streams must see the data.
        syncLegacyStream("cuMemcpyHtoD_v2");
    }

    private static void uploadNative(MemorySegment src, long ptr) {
        long n = src.byteSize();
        int r;
        try {
            r = (int) Cu.cuMemcpyHtoD.invokeExact(ptr, src, n);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemcpyHtoD_v2(dst " + Native.hex(ptr) + ", " + n + " bytes)");
        }
    }

    private static void downloadRaw(CudaContext context, long ptr, MemorySegment dst) {
        long n = dst.byteSize();
        if (n == 0) {
            return;
        }
        if (dst.isReadOnly()) {
            throw new InvalidArgumentException("dst", dst, "a writable segment");
        }
        activateFor(context, ptr);
        if (dst.isNative()) {
            downloadNative(ptr, dst);
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment tmp = arena.allocate(n, 16);
                downloadNative(ptr, tmp);
                dst.copyFrom(tmp);
            }
        }
    }

    private static void downloadNative(long ptr, MemorySegment dst) {
        long n = dst.byteSize();
        int r;
        try {
            r = (int) Cu.cuMemcpyDtoH.invokeExact(dst, ptr, n);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemcpyDtoH_v2(src " + Native.hex(ptr) + ", " + n + " bytes)");
        }
    }

    /** Waits for the legacy default stream, where the synchronous copy and memset calls run. */
    private static void syncLegacyStream(String after) {
        int r;
        try {
            r = (int) Cu.cuStreamSynchronize.invokeExact(MemorySegment.NULL);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuStreamSynchronize(legacy default stream, after " + after + ")");
        }
    }

    private static void checkBytes(long bytes) {
        if (bytes < 0) {
            throw new InvalidArgumentException("bytes", bytes, "a byte count >= 0");
        }
    }

    private static void requireNative(String name, MemorySegment segment) {
        if (!segment.isNative()) {
            throw new InvalidArgumentException(name, segment,
                    "a native segment (ideally PinnedHostMemory.segment()); async copies cannot use heap memory");
        }
    }
}
