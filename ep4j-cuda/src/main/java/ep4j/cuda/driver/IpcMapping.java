package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;

/**
 * Another process's device memory mapped into this one ({@code cuIpcOpenMemHandle}); unmapped
 * on {@link #close()}. The exporter must keep its allocation until every importer has closed.
 */
public final class IpcMapping extends ContextResource implements AutoCloseable {
    private final long address;

    private IpcMapping(CudaContext context, long address) {
        super(context);
        this.address = address;
    }

    /** Maps a handle's 64 bytes; peer access to the exporting device is enabled as needed. */
    public static IpcMapping open(CudaContext context, byte[] handle) {
        return open(context, IpcMemHandle.fromBytes(handle));
    }

    public static IpcMapping open(CudaContext context, IpcMemHandle handle) {
        context.acquire();
        try {
            context.activate();
            MemorySegment scratch = Scratch.get();
            MemorySegment byValue = scratch.asSlice(0, IpcMemHandle.SIZE);
            MemorySegment out = scratch.asSlice(IpcMemHandle.SIZE, 8);
            handle.copyTo(byValue);
            int r;
            try {
                r = (int) Cu.cuIpcOpenMemHandle.invokeExact(out, byValue,
                        CudaConstants.CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuIpcOpenMemHandle_v2(" + handle + ") on device " + context.device().ordinal());
            }
            return new IpcMapping(context, out.get(JAVA_LONG, 0));
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }

    /** The device pointer of the mapped allocation's start. */
    public long address() {
        ensureOpen();
        return address;
    }

    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuIpcCloseMemHandle.invokeExact(address);
    }

    @Override
    String destroyCall() {
        return "cuIpcCloseMemHandle(" + Native.hex(address) + ")";
    }

    @Override
    String describe() {
        return Native.hex(address) + ", " + device();
    }
}
