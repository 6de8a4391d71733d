package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;

/**
 * Downcall handles for the driver API, bound by exact (versioned) symbol name. Static finals so
 * the JIT treats them as constants and {@code invokeExact} compiles to a direct call; this class
 * initialises on first use only, and never fails (see {@link Lib}). Callers check
 * {@link Driver#require()} before reaching here, so a missing driver surfaces as a reason.
 *
 * <p>Type mapping: CUresult, CUdevice, enums and {@code unsigned int} are JAVA_INT; CUdeviceptr,
 * size_t, {@code unsigned long long} and CUmemGenericAllocationHandle are JAVA_LONG; handles and
 * pointers are ADDRESS.
 *
 * <p>Every handle counts its calls ({@link DriverCalls}): {@link Lib#bind} wraps it.
 */
final class Cu {
    private Cu() {}

    /** Calls that only touch driver state in memory: skipping the thread-state transition is safe. */
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);

    /** {@code CUipcMemHandle}: 64 opaque bytes, passed by value to cuIpcOpenMemHandle. */
    static final StructLayout IPC_HANDLE = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(CudaConstants.CU_IPC_HANDLE_SIZE, JAVA_BYTE).withName("reserved"));

    private static FunctionDescriptor fd(MemoryLayout... args) {
        return FunctionDescriptor.of(JAVA_INT, args);
    }

    /** Initialises this class, binding every handle (and registering it with {@link DriverCalls}). */
    static void bindAll() {}

    // Initialisation and errors
    static final MethodHandle cuInit = Lib.bind("cuInit", fd(JAVA_INT));
    static final MethodHandle cuDriverGetVersion = Lib.bind("cuDriverGetVersion", fd(ADDRESS));
    static final MethodHandle cuGetErrorName = Lib.bind("cuGetErrorName", fd(JAVA_INT, ADDRESS), CRITICAL);
    static final MethodHandle cuGetErrorString = Lib.bind("cuGetErrorString", fd(JAVA_INT, ADDRESS), CRITICAL);

    // Devices
    static final MethodHandle cuDeviceGetCount = Lib.bind("cuDeviceGetCount", fd(ADDRESS));
    static final MethodHandle cuDeviceGet = Lib.bind("cuDeviceGet", fd(ADDRESS, JAVA_INT));
    static final MethodHandle cuDeviceGetAttribute =
            Lib.bind("cuDeviceGetAttribute", fd(ADDRESS, JAVA_INT, JAVA_INT), CRITICAL);
    static final MethodHandle cuDeviceGetName = Lib.bind("cuDeviceGetName", fd(ADDRESS, JAVA_INT, JAVA_INT));
    static final MethodHandle cuDeviceTotalMem = Lib.bind("cuDeviceTotalMem_v2", fd(ADDRESS, JAVA_INT));
    static final MethodHandle cuDeviceCanAccessPeer =
            Lib.bind("cuDeviceCanAccessPeer", fd(ADDRESS, JAVA_INT, JAVA_INT));

    // Contexts
    static final MethodHandle cuDevicePrimaryCtxRetain = Lib.bind("cuDevicePrimaryCtxRetain", fd(ADDRESS, JAVA_INT));
    static final MethodHandle cuDevicePrimaryCtxRelease = Lib.bind("cuDevicePrimaryCtxRelease_v2", fd(JAVA_INT));
    static final MethodHandle cuCtxSetCurrent = Lib.bind("cuCtxSetCurrent", fd(ADDRESS), CRITICAL);
    static final MethodHandle cuCtxSynchronize = Lib.bind("cuCtxSynchronize", fd());
    static final MethodHandle cuCtxEnablePeerAccess = Lib.bind("cuCtxEnablePeerAccess", fd(ADDRESS, JAVA_INT));
    static final MethodHandle cuMemGetInfo = Lib.bind("cuMemGetInfo_v2", fd(ADDRESS, ADDRESS));

    // Device memory
    static final MethodHandle cuMemAlloc = Lib.bind("cuMemAlloc_v2", fd(ADDRESS, JAVA_LONG));
    static final MethodHandle cuMemFree = Lib.bind("cuMemFree_v2", fd(JAVA_LONG));
    static final MethodHandle cuMemcpyHtoD = Lib.bind("cuMemcpyHtoD_v2", fd(JAVA_LONG, ADDRESS, JAVA_LONG));
    static final MethodHandle cuMemcpyDtoH = Lib.bind("cuMemcpyDtoH_v2", fd(ADDRESS, JAVA_LONG, JAVA_LONG));
    static final MethodHandle cuMemcpyDtoD = Lib.bind("cuMemcpyDtoD_v2", fd(JAVA_LONG, JAVA_LONG, JAVA_LONG));
    static final MethodHandle cuMemcpyHtoDAsync =
            Lib.bind("cuMemcpyHtoDAsync_v2", fd(JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS));
    static final MethodHandle cuMemcpyDtoHAsync =
            Lib.bind("cuMemcpyDtoHAsync_v2", fd(ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS));
    static final MethodHandle cuMemcpyDtoDAsync =
            Lib.bind("cuMemcpyDtoDAsync_v2", fd(JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS));
    static final MethodHandle cuMemsetD8 = Lib.bind("cuMemsetD8_v2", fd(JAVA_LONG, JAVA_BYTE, JAVA_LONG));
    static final MethodHandle cuMemsetD8Async =
            Lib.bind("cuMemsetD8Async", fd(JAVA_LONG, JAVA_BYTE, JAVA_LONG, ADDRESS));
    static final MethodHandle cuMemsetD32Async =
            Lib.bind("cuMemsetD32Async", fd(JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS));
    static final MethodHandle cuPointerGetAttribute =
            Lib.bind("cuPointerGetAttribute", fd(ADDRESS, JAVA_INT, JAVA_LONG));

    // Pinned host memory
    static final MethodHandle cuMemHostAlloc = Lib.bind("cuMemHostAlloc", fd(ADDRESS, JAVA_LONG, JAVA_INT));
    static final MethodHandle cuMemFreeHost = Lib.bind("cuMemFreeHost", fd(ADDRESS));
    static final MethodHandle cuMemHostGetDevicePointer =
            Lib.bind("cuMemHostGetDevicePointer_v2", fd(ADDRESS, ADDRESS, JAVA_INT));

    // Streams
    static final MethodHandle cuStreamCreate = Lib.bind("cuStreamCreate", fd(ADDRESS, JAVA_INT));
    static final MethodHandle cuStreamDestroy = Lib.bind("cuStreamDestroy_v2", fd(ADDRESS));
    static final MethodHandle cuStreamSynchronize = Lib.bind("cuStreamSynchronize", fd(ADDRESS));
    static final MethodHandle cuStreamWaitEvent = Lib.bind("cuStreamWaitEvent", fd(ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle cuStreamQuery = Lib.bind("cuStreamQuery", fd(ADDRESS), CRITICAL);

    // Events
    static final MethodHandle cuEventCreate = Lib.bind("cuEventCreate", fd(ADDRESS, JAVA_INT));
    static final MethodHandle cuEventDestroy = Lib.bind("cuEventDestroy_v2", fd(ADDRESS));
    static final MethodHandle cuEventRecord = Lib.bind("cuEventRecord", fd(ADDRESS, ADDRESS));
    static final MethodHandle cuEventSynchronize = Lib.bind("cuEventSynchronize", fd(ADDRESS));
    static final MethodHandle cuEventQuery = Lib.bind("cuEventQuery", fd(ADDRESS), CRITICAL);
    /** The _v2 form (CUDA 12.8+) reports errors the old one hid; the old one is kept for older drivers. */
    static final MethodHandle cuEventElapsedTime =
            Lib.bindFirst(fd(ADDRESS, ADDRESS, ADDRESS), "cuEventElapsedTime_v2", "cuEventElapsedTime");

    // Modules and launches
    static final MethodHandle cuModuleLoadData = Lib.bind("cuModuleLoadData", fd(ADDRESS, ADDRESS));
    static final MethodHandle cuModuleUnload = Lib.bind("cuModuleUnload", fd(ADDRESS));
    static final MethodHandle cuModuleGetFunction =
            Lib.bind("cuModuleGetFunction", fd(ADDRESS, ADDRESS, ADDRESS));
    static final MethodHandle cuFuncSetAttribute = Lib.bind("cuFuncSetAttribute", fd(ADDRESS, JAVA_INT, JAVA_INT));
    static final MethodHandle cuFuncGetAttribute = Lib.bind("cuFuncGetAttribute", fd(ADDRESS, JAVA_INT, ADDRESS));
    /** CUDA 12.4+; absent on older drivers, where launches go unchecked. */
    static final MethodHandle cuFuncGetParamInfo =
            Lib.bind("cuFuncGetParamInfo", fd(ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
    static final boolean HAS_FUNC_GET_PARAM_INFO = Lib.has("cuFuncGetParamInfo");
    static final MethodHandle cuLaunchKernel = Lib.bind("cuLaunchKernel", fd(ADDRESS,
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
    /** CUDA 12.0+; without it, launches that may overlap the previous kernel are plain launches. */
    static final MethodHandle cuLaunchKernelEx = Lib.bind("cuLaunchKernelEx", fd(ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    static final boolean HAS_LAUNCH_KERNEL_EX = Lib.has("cuLaunchKernelEx");
    static final MethodHandle cuLaunchCooperativeKernel = Lib.bind("cuLaunchCooperativeKernel", fd(ADDRESS,
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));

    // IPC
    static final MethodHandle cuIpcGetMemHandle = Lib.bind("cuIpcGetMemHandle", fd(ADDRESS, JAVA_LONG));
    static final MethodHandle cuIpcOpenMemHandle =
            Lib.bind("cuIpcOpenMemHandle_v2", fd(ADDRESS, IPC_HANDLE, JAVA_INT));
    static final MethodHandle cuIpcCloseMemHandle = Lib.bind("cuIpcCloseMemHandle", fd(JAVA_LONG));

    // Virtual memory management: physical allocations, address ranges, mappings, access, sharing.
    // Structs are passed by pointer (ADDRESS); their layouts are in DriverStructs.
    static final MethodHandle cuMemGetAllocationGranularity =
            Lib.bind("cuMemGetAllocationGranularity", fd(ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle cuMemCreate = Lib.bind("cuMemCreate", fd(ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG));
    static final MethodHandle cuMemRelease = Lib.bind("cuMemRelease", fd(JAVA_LONG));
    static final MethodHandle cuMemAddressReserve =
            Lib.bind("cuMemAddressReserve", fd(ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    static final MethodHandle cuMemAddressFree = Lib.bind("cuMemAddressFree", fd(JAVA_LONG, JAVA_LONG));
    static final MethodHandle cuMemMap =
            Lib.bind("cuMemMap", fd(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    static final MethodHandle cuMemUnmap = Lib.bind("cuMemUnmap", fd(JAVA_LONG, JAVA_LONG));
    static final MethodHandle cuMemSetAccess = Lib.bind("cuMemSetAccess", fd(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG));
    static final MethodHandle cuMemGetAccess = Lib.bind("cuMemGetAccess", fd(ADDRESS, ADDRESS, JAVA_LONG));
    /** For a POSIX file descriptor the out-parameter is an {@code int}. */
    static final MethodHandle cuMemExportToShareableHandle =
            Lib.bind("cuMemExportToShareableHandle", fd(ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG));
    /** For a POSIX file descriptor the {@code void *osHandle} is the descriptor's value as a pointer. */
    static final MethodHandle cuMemImportFromShareableHandle =
            Lib.bind("cuMemImportFromShareableHandle", fd(ADDRESS, ADDRESS, JAVA_INT));

    // Stream-ordered allocator (memory pools)
    static final MethodHandle cuDeviceGetDefaultMemPool = Lib.bind("cuDeviceGetDefaultMemPool", fd(ADDRESS, JAVA_INT));
    /** {@code void *value}: an int or a cuuint64_t, by attribute. */
    static final MethodHandle cuMemPoolSetAttribute = Lib.bind("cuMemPoolSetAttribute", fd(ADDRESS, JAVA_INT, ADDRESS));
    static final MethodHandle cuMemPoolGetAttribute = Lib.bind("cuMemPoolGetAttribute", fd(ADDRESS, JAVA_INT, ADDRESS));
    /** From the device's current pool; ep4j allocates from a named pool (cuMemAllocFromPoolAsync). */
    static final MethodHandle cuMemAllocAsync = Lib.bind("cuMemAllocAsync", fd(ADDRESS, JAVA_LONG, ADDRESS));
    static final MethodHandle cuMemAllocFromPoolAsync =
            Lib.bind("cuMemAllocFromPoolAsync", fd(ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
    static final MethodHandle cuMemFreeAsync = Lib.bind("cuMemFreeAsync", fd(JAVA_LONG, ADDRESS));

    // Graphs
    static final MethodHandle cuStreamBeginCapture = Lib.bind("cuStreamBeginCapture_v2", fd(ADDRESS, JAVA_INT));
    static final MethodHandle cuStreamEndCapture = Lib.bind("cuStreamEndCapture", fd(ADDRESS, ADDRESS));
    static final MethodHandle cuGraphInstantiateWithFlags =
            Lib.bind("cuGraphInstantiateWithFlags", fd(ADDRESS, ADDRESS, JAVA_LONG));
    static final MethodHandle cuGraphLaunch = Lib.bind("cuGraphLaunch", fd(ADDRESS, ADDRESS));
    static final MethodHandle cuGraphExecDestroy = Lib.bind("cuGraphExecDestroy", fd(ADDRESS));
    static final MethodHandle cuGraphDestroy = Lib.bind("cuGraphDestroy", fd(ADDRESS));
}
