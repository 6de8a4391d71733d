package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;

/**
 * Entry point to the CUDA driver: whether it can be used here, and how failures are reported.
 *
 * <p>Safe to call on any machine: the library is opened, initialised ({@code cuInit}) and its
 * devices counted once, on first use, and a failure becomes {@link #unavailableReason()} rather
 * than an error. Everything else in this package that needs the driver throws
 * {@link CudaUnavailableException} with that reason.
 */
public final class Driver {
    private Driver() {}

    /** Holder: the first call of {@link #isAvailable()} pays for loading and cuInit, nothing earlier. */
    private static final class Status {
        static final String REASON;
        static final int DEVICE_COUNT;
        static final int VERSION;

        static {
            String reason = Lib.LOAD_ERROR;
            int count = 0;
            int version = 0;
            if (reason == null) {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment out = arena.allocate(JAVA_INT);
                    int r = (int) Cu.cuInit.invokeExact(0);
                    if (r != CudaConstants.CUDA_SUCCESS) {
                        reason = describe(r, "cuInit(0)") + " (" + Lib.LIBRARY + " loaded)";
                    } else {
                        r = (int) Cu.cuDriverGetVersion.invokeExact(out);
                        version = r == CudaConstants.CUDA_SUCCESS ? out.get(JAVA_INT, 0) : 0;
                        r = (int) Cu.cuDeviceGetCount.invokeExact(out);
                        if (r != CudaConstants.CUDA_SUCCESS) {
                            reason = describe(r, "cuDeviceGetCount");
                        } else {
                            count = out.get(JAVA_INT, 0);
                            if (count <= 0) {
                                reason = Lib.LIBRARY + " loaded and cuInit succeeded, but there are no CUDA devices";
                            }
                        }
                    }
                } catch (VirtualMachineError e) {
                    throw e;
                } catch (Throwable t) {
                    reason = "initialising the CUDA driver (" + Lib.LIBRARY + ") failed: " + t;
                }
            }
            REASON = reason;
            DEVICE_COUNT = reason == null ? count : 0;
            VERSION = version;
        }
    }

    /** True when libcuda loaded, cuInit succeeded and there is at least one device. */
    public static boolean isAvailable() {
        return Status.REASON == null;
    }

    /** Why the driver cannot be used (mentions libcuda, cuInit or the device count), or null when it can. */
    public static String unavailableReason() {
        return Status.REASON;
    }

    /** Number of CUDA devices visible to this process. */
    public static int deviceCount() {
        require();
        return Status.DEVICE_COUNT;
    }

    /** The driver's CUDA version as 1000 * major + 10 * minor (e.g. 13000), or 0 when unknown. */
    public static int driverVersion() {
        require();
        return Status.VERSION;
    }

    /**
     * Throws {@link CudaException} when {@code result} is not {@code CUDA_SUCCESS}.
     *
     * @param callDescription the call and its key arguments, e.g. {@code "cuMemAlloc_v2(1024 bytes)"}
     */
    public static void check(int result, String callDescription) {
        if (result != CudaConstants.CUDA_SUCCESS) {
            throw failure(result, callDescription);
        }
    }

    /** The symbolic name of a CUresult, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public static String errorName(int result) {
        String s = isLoaded() ? errorText(Cu.cuGetErrorName, result) : null;
        return s != null ? s : KnownNames.of(result);
    }

    /** The driver's description of a CUresult, e.g. {@code out of memory}. */
    public static String errorString(int result) {
        String s = isLoaded() ? errorText(Cu.cuGetErrorString, result) : null;
        return s != null ? s : "unknown error";
    }

    /** The exception for a failed call; built only on failure, so hot paths pass their arguments here. */
    static CudaException failure(int result, String callDescription) {
        return new CudaException(describe(result, callDescription), result);
    }

    static void require() {
        String reason = Status.REASON;
        if (reason != null) {
            throw new CudaUnavailableException(reason);
        }
    }

    private static String describe(int result, String call) {
        return call + " failed: " + errorName(result) + " (" + errorString(result) + ")";
    }

    private static boolean isLoaded() {
        return Lib.LOAD_ERROR == null;
    }

    @SuppressWarnings("restricted") // reads a C string the driver returned
    private static String errorText(java.lang.invoke.MethodHandle fn, int result) {
        // A confined arena, not Scratch: this runs while a caller may still hold Scratch results.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int r = (int) fn.invokeExact(result, out);
            MemorySegment p = out.get(ADDRESS, 0);
            if (r != CudaConstants.CUDA_SUCCESS || p.equals(MemorySegment.NULL)) {
                return null;
            }
            return p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            return null;
        }
    }

    /** Names for when the library cannot answer (not loaded, or the code is one it does not know). */
    private static final class KnownNames {
        static String of(int result) {
            for (Field f : CudaConstants.class.getFields()) {
                if (f.getType() == int.class && Modifier.isStatic(f.getModifiers())
                        && (f.getName().startsWith("CUDA_ERROR_") || f.getName().equals("CUDA_SUCCESS"))) {
                    try {
                        if (f.getInt(null) == result) {
                            return f.getName();
                        }
                    } catch (IllegalAccessException e) {
                        break;
                    }
                }
            }
            return "CUresult " + result;
        }
    }
}
