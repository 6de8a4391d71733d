package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A retained reference to a device's primary context (the one the CUDA runtime, and so PyTorch,
 * uses too, which lets pointers and streams pass between them).
 *
 * <p>A CUDA context is current per thread. Every wrapper in this package makes its context
 * current before it calls the driver, so any thread may use any of them; {@link #makeCurrent()}
 * is only for code that calls the driver directly.
 *
 * <p>Resources made from a context (memory, streams, events, modules, ...) keep it alive: closing
 * the context while some are open only ends this handle, and the primary context is released when
 * the last of them closes. So close order never frees memory under an open {@link DeviceMemory}.
 */
public final class CudaContext implements AutoCloseable {
    private final CudaDevice device;
    private final MemorySegment handle;
    /** One for this handle plus one per open resource made from it. */
    private final AtomicInteger references = new AtomicInteger(1);
    private volatile boolean closed;

    private CudaContext(CudaDevice device, MemorySegment handle) {
        this.device = device;
        this.handle = handle;
    }

    /** Retains the primary context of device {@code ordinal} (creating it on first use). */
    public static CudaContext open(int ordinal) {
        Driver.require();
        CudaDevice device = CudaDevice.get(ordinal);
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuDevicePrimaryCtxRetain.invokeExact(out, device.handle());
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuDevicePrimaryCtxRetain(device " + ordinal + ")");
        }
        return new CudaContext(device, out.get(ADDRESS, 0));
    }

    public CudaDevice device() {
        return device;
    }

    /** The CUcontext. */
    public MemorySegment handle() {
        ensureOpen();
        return handle;
    }

    /** Makes this context current on the calling thread (cuCtxSetCurrent; cheap). */
    public void makeCurrent() {
        ensureOpen();
        activate();
    }

    /**
     * Lets kernels and copies in this context reach {@code peer}'s memory. Idempotent; a no-op
     * for the same device. Peer access is one-way: call it on both sides for two-way access.
     */
    public void enablePeerAccess(CudaContext peer) {
        ensureOpen();
        peer.ensureOpen();
        if (peer.device.equals(device)) {
            return;
        }
        activate();
        int r;
        try {
            r = (int) Cu.cuCtxEnablePeerAccess.invokeExact(peer.handle, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS && r != CudaConstants.CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED) {
            throw Driver.failure(r, "cuCtxEnablePeerAccess(device " + device.ordinal()
                    + " -> peer device " + peer.device.ordinal() + ")");
        }
    }

    /** Waits for all work in this context; raises any error a kernel left behind. */
    public void synchronize() {
        ensureOpen();
        activate();
        int r;
        try {
            r = (int) Cu.cuCtxSynchronize.invokeExact();
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuCtxSynchronize(device " + device.ordinal() + ")");
        }
    }

    public MemoryInfo memoryInfo() {
        ensureOpen();
        activate();
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuMemGetInfo.invokeExact(out, out.asSlice(8));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemGetInfo_v2(device " + device.ordinal() + ")");
        }
        return new MemoryInfo(out.get(JAVA_LONG, 0), out.get(JAVA_LONG, 8));
    }

    public boolean isClosed() {
        return closed;
    }

    /** Ends this handle; the primary context is released once no resource made from it is open. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        release();
    }

    @Override
    public String toString() {
        return "CudaContext[device " + device.ordinal() + (closed ? ", closed]" : "]");
    }

    // ---- for the resources of this package ----

    /** cuCtxSetCurrent without the open check: resources use it while they keep the context alive. */
    void activate() {
        int r;
        try {
            r = (int) Cu.cuCtxSetCurrent.invokeExact(handle);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuCtxSetCurrent(device " + device.ordinal() + ")");
        }
    }

    /** A new resource is being made: this handle must be open, and the context stays until {@link #release()}. */
    void acquire() {
        ensureOpen();
        while (true) {
            int n = references.get();
            if (n <= 0) {
                throw closedError();
            }
            if (references.compareAndSet(n, n + 1)) {
                return;
            }
        }
    }

    void release() {
        if (references.decrementAndGet() != 0) {
            return;
        }
        int r;
        try {
            r = (int) Cu.cuDevicePrimaryCtxRelease.invokeExact(device.handle());
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (!Native.releasedOk(r)) {
            throw Driver.failure(r, "cuDevicePrimaryCtxRelease_v2(device " + device.ordinal() + ")");
        }
    }

    void ensureOpen() {
        if (closed) {
            throw closedError();
        }
    }

    private IllegalStateException closedError() {
        return new IllegalStateException("CudaContext of device " + device.ordinal() + " is closed");
    }
}
