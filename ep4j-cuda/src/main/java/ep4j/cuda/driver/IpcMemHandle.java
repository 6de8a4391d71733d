package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A {@code CUipcMemHandle}: 64 bytes that let another process map a {@link DeviceMemory}
 * ({@link IpcMapping#open}). A value; send {@link #bytes()} through any channel.
 * Another process only: the driver refuses to open a handle in the process that made it.
 */
public final class IpcMemHandle {
    public static final int SIZE = CudaConstants.CU_IPC_HANDLE_SIZE;

    private final byte[] bytes;

    private IpcMemHandle(byte[] bytes) {
        this.bytes = bytes;
    }

    /** The handle of a whole allocation. */
    public static IpcMemHandle of(DeviceMemory memory) {
        long ptr = memory.address();
        memory.context().activate();
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuIpcGetMemHandle.invokeExact(out, ptr);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuIpcGetMemHandle(" + memory + ")");
        }
        return new IpcMemHandle(out.asSlice(0, SIZE).toArray(JAVA_BYTE));
    }

    /** A handle received from another process. */
    public static IpcMemHandle fromBytes(byte[] bytes) {
        if (bytes.length != SIZE) {
            throw new InvalidArgumentException("bytes.length", bytes.length, SIZE + " (CU_IPC_HANDLE_SIZE)");
        }
        return new IpcMemHandle(bytes.clone());
    }

    /** A copy of the 64 bytes. */
    public byte[] bytes() {
        return bytes.clone();
    }

    /** Maps the memory into {@code context}; see {@link IpcMapping#open(CudaContext, IpcMemHandle)}. */
    public IpcMapping open(CudaContext context) {
        return IpcMapping.open(context, this);
    }

    void copyTo(MemorySegment dst) {
        MemorySegment.copy(bytes, 0, dst, JAVA_BYTE, 0, SIZE);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof IpcMemHandle h && Arrays.equals(h.bytes, bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return "IpcMemHandle[" + java.util.HexFormat.of().formatHex(bytes, 0, 16) + "...]";
    }
}
