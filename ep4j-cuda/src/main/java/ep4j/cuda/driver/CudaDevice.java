package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * One CUDA device, by ordinal. A value: equal ordinals are equal devices. Queries go to the
 * driver each time except the name, which never changes.
 */
public final class CudaDevice {
    private static final int NAME_BYTES = 256;

    private final int ordinal;
    private final int handle;
    private volatile String name;

    private CudaDevice(int ordinal, int handle) {
        this.ordinal = ordinal;
        this.handle = handle;
    }

    /** The device with this ordinal, in {@code [0, Driver.deviceCount())}. */
    public static CudaDevice get(int ordinal) {
        int count = Driver.deviceCount();
        if (ordinal < 0 || ordinal >= count) {
            throw new InvalidArgumentException("ordinal", ordinal, "a CUDA device ordinal in [0, " + count + ")");
        }
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuDeviceGet.invokeExact(out, ordinal);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuDeviceGet(" + ordinal + ")");
        }
        return new CudaDevice(ordinal, out.get(JAVA_INT, 0));
    }

    /** Every visible device, by ordinal. */
    public static List<CudaDevice> all() {
        int n = Driver.deviceCount();
        List<CudaDevice> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(get(i));
        }
        return List.copyOf(list);
    }

    public int ordinal() {
        return ordinal;
    }

    /** The driver's CUdevice value (the ordinal on every driver so far). */
    int handle() {
        return handle;
    }

    /** e.g. "NVIDIA H200". */
    public String name() {
        String n = name;
        if (n == null) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(NAME_BYTES);
                int r;
                try {
                    r = (int) Cu.cuDeviceGetName.invokeExact(out, NAME_BYTES, handle);
                } catch (Throwable t) {
                    throw Native.rethrow(t);
                }
                if (r != CudaConstants.CUDA_SUCCESS) {
                    throw Driver.failure(r, "cuDeviceGetName(device " + ordinal + ")");
                }
                n = out.getString(0);
            }
            name = n;
        }
        return n;
    }

    /** A {@code CU_DEVICE_ATTRIBUTE_*} value (see {@link CudaConstants}). */
    public int attribute(int attribute) {
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuDeviceGetAttribute.invokeExact(out, attribute, handle);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuDeviceGetAttribute(" + attribute + ", device " + ordinal + ")");
        }
        return out.get(JAVA_INT, 0);
    }

    public int multiprocessorCount() {
        return attribute(CudaConstants.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    }

    /** Compute capability as 10 * major + minor, e.g. 90 for Hopper. */
    public int computeCapability() {
        return 10 * attribute(CudaConstants.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                + attribute(CudaConstants.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    }

    /** Largest dynamic shared memory a block may opt into with {@link CudaFunction#setMaxDynamicSharedMemory}. */
    public int maxSharedMemoryPerBlockOptin() {
        return attribute(CudaConstants.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
    }

    /** Bytes of device memory. */
    public long totalMemory() {
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuDeviceTotalMem.invokeExact(out, handle);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuDeviceTotalMem_v2(device " + ordinal + ")");
        }
        return out.get(JAVA_LONG, 0);
    }

    /** Whether this device can read and write {@code peer}'s memory directly (NVLink or PCIe P2P). */
    public boolean canAccessPeer(CudaDevice peer) {
        if (peer.ordinal == ordinal) {
            return true;
        }
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuDeviceCanAccessPeer.invokeExact(out, handle, peer.handle);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuDeviceCanAccessPeer(device " + ordinal + ", peer " + peer.ordinal + ")");
        }
        return out.get(JAVA_INT, 0) != 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CudaDevice d && d.ordinal == ordinal;
    }

    @Override
    public int hashCode() {
        return ordinal;
    }

    @Override
    public String toString() {
        return "CudaDevice[" + ordinal + "]";
    }
}
