package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A kernel of a {@link CudaModule}; valid while the module is open. Thread-safe: launches from
 * several threads are fine, each with its own {@link KernelArgs}.
 *
 * <p>Where the driver can describe the kernel's parameters (CUDA 12.4+), every launch checks the
 * argument count and sizes first, so a mismatch is an exception instead of a kernel reading garbage.
 */
public final class CudaFunction {
    /** {@code -Dep4j.cuda.checkKernelArgs=false} turns the argument check off. */
    private static final boolean CHECK_ARGUMENTS =
            !"false".equalsIgnoreCase(System.getProperty("ep4j.cuda.checkKernelArgs"));

    private final CudaModule module;
    private final String name;
    private final MemorySegment handle;
    /** Byte size of each parameter, or null when the driver cannot say. */
    private final long[] parameterSizes;

    CudaFunction(CudaModule module, String name, MemorySegment handle) {
        this.module = module;
        this.name = name;
        this.handle = handle;
        this.parameterSizes = queryParameterSizes(handle);
    }

    public String name() {
        return name;
    }

    public CudaModule module() {
        return module;
    }

    /** The CUfunction. */
    public MemorySegment handle() {
        module.ensureOpen();
        return handle;
    }

    /** Number of kernel parameters, or -1 when the driver cannot say. */
    public int parameterCount() {
        return parameterSizes == null ? -1 : parameterSizes.length;
    }

    /** A {@code CU_FUNC_ATTRIBUTE_*} value (see {@link CudaConstants}). */
    public int attribute(int attribute) {
        module.ensureOpen();
        module.context().activate();
        MemorySegment out = Scratch.get();
        int r;
        try {
            r = (int) Cu.cuFuncGetAttribute.invokeExact(out, attribute, handle);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuFuncGetAttribute(" + attribute + ", " + name + ")");
        }
        return out.get(JAVA_INT, 0);
    }

    /** Allows launches with up to {@code bytes} of dynamic shared memory (needed above 48 KiB). */
    public void setMaxDynamicSharedMemory(int bytes) {
        module.ensureOpen();
        if (bytes < 0) {
            throw new InvalidArgumentException("bytes", bytes, "a shared memory size >= 0");
        }
        module.context().activate();
        int r;
        try {
            r = (int) Cu.cuFuncSetAttribute.invokeExact(handle,
                    CudaConstants.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES, " + bytes + ")");
        }
    }

    /** Launches a {@code gridX x gridY} grid of {@code blockX}-thread blocks on {@code stream}. */
    public void launch(int gridX, int gridY, int blockX, int sharedBytes, CudaStream stream, KernelArgs args) {
        launch(gridX, gridY, 1, blockX, 1, 1, sharedBytes, stream, args);
    }

    public void launch(int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ, int sharedBytes,
            CudaStream stream, KernelArgs args) {
        MemorySegment params = prelaunch(gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, args);
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuLaunchKernel.invokeExact(handle, gridX, gridY, gridZ, blockX, blockY, blockZ,
                    sharedBytes, s, params, MemorySegment.NULL);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw launchFailure(r, "cuLaunchKernel", gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, stream);
        }
    }

    /**
     * A launch that may begin before the kernel ahead of it on {@code stream} has ended: once that
     * kernel lets it ({@code griddepcontrol.launch_dependents} in every block, or its end), the
     * driver starts this one's blocks as room frees up, which hides the launch latency between
     * the two (programmatic stream serialization). This kernel must execute
     * {@code griddepcontrol.wait} before it touches memory the earlier work wrote; until then it
     * sees none of it. Without {@code cuLaunchKernelEx} (drivers before CUDA 12.0) it is a
     * plain launch, where that wait returns at once.
     */
    public void launchOverlapped(int gridX, int blockX, int sharedBytes, CudaStream stream, KernelArgs args) {
        if (!Cu.HAS_LAUNCH_KERNEL_EX) {
            launch(gridX, 1, 1, blockX, 1, 1, sharedBytes, stream, args);
            return;
        }
        MemorySegment params = prelaunch(gridX, 1, 1, blockX, 1, 1, sharedBytes, args);
        MemorySegment s = stream.prepare();
        // Scratch: the config (56 bytes), then its one attribute (72 bytes), zeroed.
        MemorySegment scratch = Scratch.get();
        MemorySegment config = scratch.asSlice(0, DriverStructs.CU_LAUNCH_CONFIG.byteSize());
        MemorySegment attribute = scratch.asSlice(DriverStructs.CU_LAUNCH_CONFIG.byteSize(),
                DriverStructs.CU_LAUNCH_ATTRIBUTE.byteSize());
        attribute.set(JAVA_INT, DriverStructs.ATTRIBUTE_ID_OFFSET,
                CudaConstants.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        attribute.set(JAVA_INT, DriverStructs.ATTRIBUTE_VALUE_OFFSET, 1);  // programmaticStreamSerializationAllowed
        config.set(JAVA_INT, DriverStructs.CONFIG_GRID_X_OFFSET, gridX);
        config.set(JAVA_INT, DriverStructs.CONFIG_GRID_Y_OFFSET, 1);
        config.set(JAVA_INT, DriverStructs.CONFIG_GRID_Z_OFFSET, 1);
        config.set(JAVA_INT, DriverStructs.CONFIG_BLOCK_X_OFFSET, blockX);
        config.set(JAVA_INT, DriverStructs.CONFIG_BLOCK_Y_OFFSET, 1);
        config.set(JAVA_INT, DriverStructs.CONFIG_BLOCK_Z_OFFSET, 1);
        config.set(JAVA_INT, DriverStructs.CONFIG_SHARED_OFFSET, sharedBytes);
        config.set(ADDRESS, DriverStructs.CONFIG_STREAM_OFFSET, s);
        config.set(ADDRESS, DriverStructs.CONFIG_ATTRS_OFFSET, attribute);
        config.set(JAVA_INT, DriverStructs.CONFIG_NUM_ATTRS_OFFSET, 1);
        int r;
        try {
            r = (int) Cu.cuLaunchKernelEx.invokeExact(config, handle, params, MemorySegment.NULL);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw launchFailure(r, "cuLaunchKernelEx", gridX, 1, 1, blockX, 1, 1, sharedBytes, stream);
        }
    }

    /**
     * A launch whose blocks are all resident at once, so they may wait for each other (grid-wide
     * barriers); fails if the grid is larger than the device can hold.
     */
    public void launchCooperative(int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
            int sharedBytes, CudaStream stream, KernelArgs args) {
        MemorySegment params = prelaunch(gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes, args);
        MemorySegment s = stream.prepare();
        int r;
        try {
            r = (int) Cu.cuLaunchCooperativeKernel.invokeExact(handle, gridX, gridY, gridZ, blockX, blockY, blockZ,
                    sharedBytes, s, params);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw launchFailure(r, "cuLaunchCooperativeKernel", gridX, gridY, gridZ, blockX, blockY, blockZ,
                    sharedBytes, stream);
        }
    }

    @Override
    public String toString() {
        return "CudaFunction[" + name + "]";
    }

    private MemorySegment prelaunch(int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
            int sharedBytes, KernelArgs args) {
        module.ensureOpen();
        if (gridX <= 0 || gridY <= 0 || gridZ <= 0 || blockX <= 0 || blockY <= 0 || blockZ <= 0) {
            throw new InvalidArgumentException("grid/block of " + name,
                    "(" + gridX + "," + gridY + "," + gridZ + ")x(" + blockX + "," + blockY + "," + blockZ + ")",
                    "positive dimensions");
        }
        if (sharedBytes < 0) {
            throw new InvalidArgumentException("sharedBytes", sharedBytes, "a shared memory size >= 0");
        }
        if (parameterSizes != null) {
            args.checkAgainst(parameterSizes, name);
        }
        return args.kernelParams();
    }

    private CudaException launchFailure(int r, String call, int gx, int gy, int gz, int bx, int by, int bz,
            int shared, CudaStream stream) {
        return Driver.failure(r, call + "(" + name + ", grid (" + gx + "," + gy + "," + gz + "), block ("
                + bx + "," + by + "," + bz + "), " + shared + " bytes shared, " + stream + ")");
    }

    /** Asks the driver for each parameter's size until it says there are no more. */
    private long[] queryParameterSizes(MemorySegment function) {
        if (!Cu.HAS_FUNC_GET_PARAM_INFO || !CHECK_ARGUMENTS) {
            return null;
        }
        module.context().activate();
        MemorySegment out = Scratch.get();
        long[] sizes = new long[8];
        int n = 0;
        while (true) {
            int r;
            try {
                r = (int) Cu.cuFuncGetParamInfo.invokeExact(function, (long) n, out, out.asSlice(8));
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r == CudaConstants.CUDA_ERROR_INVALID_VALUE) {
                break; // past the last parameter
            }
            if (r != CudaConstants.CUDA_SUCCESS || n >= KernelArgs.MAX_PARAMETERS) {
                return null; // cannot describe this kernel: launches go unchecked
            }
            if (n == sizes.length) {
                sizes = Arrays.copyOf(sizes, 2 * n);
            }
            sizes[n++] = out.get(JAVA_LONG, 8);
        }
        return Arrays.copyOf(sizes, n);
    }
}
