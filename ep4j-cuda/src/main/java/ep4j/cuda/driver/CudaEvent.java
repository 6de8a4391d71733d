package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;

/**
 * A CUDA event: a point in a stream that other streams (of any device) and the host can wait for.
 * Events without timing are cheaper to record and wait on; use those for synchronisation.
 */
public final class CudaEvent extends ContextResource implements AutoCloseable {
    private final MemorySegment handle;
    private final boolean timing;

    private CudaEvent(CudaContext context, MemorySegment handle, boolean timing) {
        super(context);
        this.handle = handle;
        this.timing = timing;
    }

    public static CudaEvent create(CudaContext context, boolean timing) {
        context.acquire();
        try {
            context.activate();
            MemorySegment out = Scratch.get();
            int flags = timing ? CudaConstants.CU_EVENT_DEFAULT : CudaConstants.CU_EVENT_DISABLE_TIMING;
            int r;
            try {
                r = (int) Cu.cuEventCreate.invokeExact(out, flags);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuEventCreate(flags " + flags + ") on device " + context.device().ordinal());
            }
            return new CudaEvent(context, out.get(ADDRESS, 0), timing);
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }

    public boolean hasTiming() {
        return timing;
    }

    /** The CUevent. */
    public MemorySegment handle() {
        ensureOpen();
        return handle;
    }

    /** Captures the work queued on {@code stream} so far (a stream of this event's context). */
    public void record(CudaStream stream) {
        ensureOpen();
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuEventRecord.invokeExact(handle, s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuEventRecord(" + this + ", " + stream + ")");
        }
    }

    /** Blocks until the recorded work has finished; raises any error it hit. */
    public void synchronize() {
        ensureOpen();
        context.activate();
        int r;
        try {
            r = (int) Cu.cuEventSynchronize.invokeExact(handle);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuEventSynchronize(" + this + ")");
        }
    }

    /** True when the recorded work has finished (or nothing was recorded); never blocks. */
    public boolean isComplete() {
        ensureOpen();
        context.activate();
        int r;
        try {
            r = (int) Cu.cuEventQuery.invokeExact(handle);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r == CudaConstants.CUDA_SUCCESS) {
            return true;
        }
        if (r == CudaConstants.CUDA_ERROR_NOT_READY) {
            return false;
        }
        throw Driver.failure(r, "cuEventQuery(" + this + ")");
    }

    /** Milliseconds between two completed timing events (about 0.5 us resolution). */
    public static float elapsedMillis(CudaEvent start, CudaEvent end) {
        start.ensureOpen();
        end.ensureOpen();
        start.context.activate();
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuEventElapsedTime.invokeExact(out, start.handle, end.handle);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuEventElapsedTime(" + start + ", " + end + ")");
        }
        return out.get(JAVA_FLOAT, 0);
    }

    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuEventDestroy.invokeExact(handle);
    }

    @Override
    String destroyCall() {
        return "cuEventDestroy_v2(" + this + ")";
    }

    @Override
    String describe() {
        return Native.hex(handle.address()) + ", " + device();
    }
}
