package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;

/**
 * An executable CUDA graph recorded from a stream: replaying it costs one launch however many
 * kernels and copies it holds.
 */
public final class CudaGraph extends ContextResource implements AutoCloseable {
    private final MemorySegment exec;

    private CudaGraph(CudaContext context, MemorySegment exec) {
        super(context);
        this.exec = exec;
    }

    /**
     * Records what {@code work} queues on {@code stream} (an owned stream, not the legacy default)
     * instead of running it, and instantiates it. {@code work} may use only asynchronous operations
     * on that stream (or streams joined to it by events); synchronous copies, syncs and allocations
     * on this thread fail the capture. Capture is thread-local: other threads carry on normally.
     */
    public static CudaGraph capture(CudaStream stream, Runnable work) {
        return capture(stream, CudaConstants.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL, work);
    }

    /**
     * As {@link #capture(CudaStream, Runnable)} in capture mode {@code mode}
     * ({@code CU_STREAM_CAPTURE_MODE_*}): RELAXED lets the capturing thread allocate memory with
     * cuMemAlloc meanwhile.
     */
    public static CudaGraph capture(CudaStream stream, int mode, Runnable work) {
        if (!stream.isOwned()) {
            throw new InvalidArgumentException("stream", stream, "a stream made by CudaStream.create");
        }
        CudaContext context = stream.context();
        context.acquire();
        try {
            MemorySegment s = stream.prepare();
            int r;
            try {
                r = (int) Cu.cuStreamBeginCapture.invokeExact(s, mode);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuStreamBeginCapture_v2(" + stream + ")");
            }
            MemorySegment graph;
            try {
                work.run();
            } catch (RuntimeException | Error e) {
                try {
                    MemorySegment g = endCapture(stream);
                    if (!g.equals(MemorySegment.NULL)) {
                        destroyGraph(g);
                    }
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
            graph = endCapture(stream);
            try {
                MemorySegment out = Scratch.get();
                try {
                    r = (int) Cu.cuGraphInstantiateWithFlags.invokeExact(out, graph, 0L);
                } catch (Throwable t) {
                    throw Native.rethrow(t);
                }
                if (r != CudaConstants.CUDA_SUCCESS) {
                    throw Driver.failure(r, "cuGraphInstantiateWithFlags(captured from " + stream + ")");
                }
                return new CudaGraph(context, out.get(ADDRESS, 0));
            } finally {
                destroyGraph(graph); // the executable graph does not need it
            }
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }

    /** Queues one replay on {@code stream}. */
    public void launch(CudaStream stream) {
        ensureOpen();
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuGraphLaunch.invokeExact(exec, s);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuGraphLaunch(" + this + ", " + stream + ")");
        }
    }

    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuGraphExecDestroy.invokeExact(exec);
    }

    @Override
    String destroyCall() {
        return "cuGraphExecDestroy(" + this + ")";
    }

    @Override
    String describe() {
        return Native.hex(exec.address()) + ", " + device();
    }

    /** Ends capture; the graph is NULL when capture was invalidated. */
    private static MemorySegment endCapture(CudaStream stream) {
        MemorySegment s = stream.prepare();
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuStreamEndCapture.invokeExact(s, out);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        MemorySegment graph = out.get(ADDRESS, 0);
        if (r != CudaConstants.CUDA_SUCCESS) {
            if (!graph.equals(MemorySegment.NULL)) {
                destroyGraph(graph);
            }
            throw Driver.failure(r, "cuStreamEndCapture(" + stream + ")");
        }
        return graph;
    }

    private static void destroyGraph(MemorySegment graph) {
        int r;
        try {
            r = (int) Cu.cuGraphDestroy.invokeExact(graph);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (!Native.releasedOk(r)) {
            throw Driver.failure(r, "cuGraphDestroy");
        }
    }
}
