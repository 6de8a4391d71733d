package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.lang.foreign.MemorySegment;

/**
 * A CUDA stream of one context. Streams made by {@link #create} are non-blocking (they do not
 * wait for the legacy default stream) and destroyed on {@link #close()}; {@link #legacyDefault}
 * and {@link #wrap} give borrowed streams, which close() only stops this object from using.
 *
 * <p>Any thread may use a stream; each call makes the stream's context current first.
 * Operations are ordered on the stream in the order the driver receives them, so threads that
 * share a stream must agree among themselves on that order.
 */
public final class CudaStream extends ContextResource implements AutoCloseable {
    private final MemorySegment handle;
    private final boolean owned;

    private CudaStream(CudaContext context, MemorySegment handle, boolean owned) {
        super(context);
        this.handle = handle;
        this.owned = owned;
    }

    /** A new non-blocking stream. */
    public static CudaStream create(CudaContext context) {
        return create(context, true);
    }

    /** A new stream; {@code nonBlocking=false} makes it synchronise with the legacy default stream. */
    public static CudaStream create(CudaContext context, boolean nonBlocking) {
        context.acquire();
        try {
            context.activate();
            MemorySegment out = Scratch.get();
            int flags = nonBlocking ? CudaConstants.CU_STREAM_NON_BLOCKING : CudaConstants.CU_STREAM_DEFAULT;
            int r;
            try {
                r = (int) Cu.cuStreamCreate.invokeExact(out, flags);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuStreamCreate(flags " + flags + ") on device " + context.device().ordinal());
            }
            return new CudaStream(context, out.get(ADDRESS, 0), true);
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }

    /** The context's legacy default stream (the NULL stream); borrowed. */
    public static CudaStream legacyDefault(CudaContext context) {
        context.ensureOpen();
        return new CudaStream(context, MemorySegment.NULL, false);
    }

    /** A stream made elsewhere (e.g. by PyTorch) in {@code context}; borrowed, never destroyed here. */
    public static CudaStream wrap(CudaContext context, long streamHandle) {
        context.ensureOpen();
        return new CudaStream(context, MemorySegment.ofAddress(streamHandle), false);
    }

    /** The CUstream (NULL for the legacy default stream). */
    public MemorySegment handle() {
        ensureOpen();
        return handle;
    }

    /** The CUstream as a number, e.g. to hand to another library. */
    public long address() {
        ensureOpen();
        return handle.address();
    }

    public boolean isOwned() {
        return owned;
    }

    /** Blocks until all work queued so far has finished; raises any error it hit. */
    public void synchronize() {
        MemorySegment s = prepare();
        int r;
        try {
            r = (int) Cu.cuStreamSynchronize.invokeExact(s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuStreamSynchronize(" + this + ")");
        }
    }

    /** Work queued later on this stream waits for {@code event}'s last record (any device's event). */
    public void waitEvent(CudaEvent event) {
        MemorySegment s = prepare();
        MemorySegment e = event.handle();
        int r;
        try {
            r = (int) Cu.cuStreamWaitEvent.invokeExact(s, e, 0);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuStreamWaitEvent(" + this + ", " + event + ")");
        }
    }

    /** True when all work queued so far has finished; never blocks. */
    public boolean isIdle() {
        MemorySegment s = prepare();
        int r;
        try {
            r = (int) Cu.cuStreamQuery.invokeExact(s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r == CudaConstants.CUDA_SUCCESS) {
            return true;
        }
        if (r == CudaConstants.CUDA_ERROR_NOT_READY) {
            return false;
        }
        throw Driver.failure(r, "cuStreamQuery(" + this + ")");
    }

    /** close() destroys an owned stream (queued work still completes); borrowed streams are left alone. */
    @Override
    boolean releasesOnClose() {
        return owned;
    }

    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuStreamDestroy.invokeExact(handle);
    }

    @Override
    String destroyCall() {
        return "cuStreamDestroy_v2(" + this + ")";
    }

    @Override
    String describe() {
        String what = handle.equals(MemorySegment.NULL) ? "legacy default" : Native.hex(handle.address());
        return what + ", " + device();
    }

    /** Checks, makes the context current and returns the handle: the prologue of every stream operation. */
    MemorySegment prepare() {
        ensureOpen();
        if (!owned) {
            context.ensureOpen(); // a borrowed stream does not keep the context alive
        }
        context.activate();
        return handle;
    }
}
