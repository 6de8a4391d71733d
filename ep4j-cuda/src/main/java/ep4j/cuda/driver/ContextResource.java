package ep4j.cuda.driver;

/**
 * The lifecycle shared by the resources made from a {@link CudaContext} (events, streams, graphs,
 * modules, memory, IPC mappings): each keeps its context alive from creation (the factory's
 * {@link CudaContext#acquire()}) until {@link #close()}, which destroys the driver object once,
 * with the context current, and then releases the context. Closing twice is harmless; using a
 * closed resource throws {@link IllegalStateException}.
 */
abstract class ContextResource implements AutoCloseable {
    final CudaContext context;
    private volatile boolean closed;

    ContextResource(CudaContext context) {
        this.context = context;
    }

    /** The driver call that frees the resource (the context is current); returns its CUresult. */
    abstract int destroy() throws Throwable;

    /** The destroy call as a failure names it, e.g. {@code "cuEventDestroy_v2(" + this + ")"}. */
    abstract String destroyCall();

    /** What {@link #toString()} shows between the class name and the closed marker. */
    abstract String describe();

    /** Runs before the context is made current for {@link #destroy()}; nothing by default. */
    void beforeDestroy() {}

    /** False for borrowed objects: close() then only marks them closed (no destroy, no release). */
    boolean releasesOnClose() {
        return true;
    }

    public CudaContext context() {
        return context;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (!releasesOnClose()) {
            return;
        }
        try {
            beforeDestroy();
            context.activate();
            int r;
            try {
                r = destroy();
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (!Native.releasedOk(r)) {
                throw Driver.failure(r, destroyCall());
            }
        } finally {
            context.release();
        }
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + describe() + (closed ? ", closed]" : "]");
    }

    /** {@code "device N"} of this resource's context, for {@link #describe()}. */
    final String device() {
        return "device " + context.device().ordinal();
    }

    void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }
}
