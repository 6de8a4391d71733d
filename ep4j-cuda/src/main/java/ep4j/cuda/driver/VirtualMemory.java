package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;

/**
 * Sizes for the driver's virtual memory management ({@link PhysicalMemory}, {@link AddressRange},
 * {@link MemoryMapping}): allocation sizes, mapping sizes and offsets must be multiples of the
 * device's allocation granularity, and whether a device supports the API at all.
 */
public final class VirtualMemory {
    private VirtualMemory() {}

    /** Whether {@code device} supports cuMemCreate/cuMemMap and exporting as a POSIX file descriptor. */
    public static boolean supported(CudaDevice device) {
        return device.attribute(CudaConstants.CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED) != 0
                && device.attribute(CudaConstants.CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED) != 0;
    }

    /**
     * The allocation granularity in bytes of pinned memory on {@code context}'s device,
     * exportable as {@code handleTypes} (a {@code CU_MEM_HANDLE_TYPE_*} mask): the
     * {@code recommended} one (for performance) or the minimum one (what the driver requires).
     * Asked with {@code context} current.
     */
    public static long granularity(CudaContext context, int handleTypes, boolean recommended) {
        Driver.require();
        context.ensureOpen();
        context.activate();
        int ordinal = context.device().ordinal();
        MemorySegment scratch = Scratch.get();
        MemorySegment prop = DriverStructs.allocationProp(scratch, ordinal, handleTypes);
        MemorySegment out = scratch.asSlice(64, 8);
        int option = recommended ? CudaConstants.CU_MEM_ALLOC_GRANULARITY_RECOMMENDED
                : CudaConstants.CU_MEM_ALLOC_GRANULARITY_MINIMUM;
        int r;
        try {
            r = (int) Cu.cuMemGetAllocationGranularity.invokeExact(out, prop, option);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemGetAllocationGranularity(device " + ordinal + ", handle types "
                    + handleTypes + ", " + (recommended ? "RECOMMENDED" : "MINIMUM") + ")");
        }
        return out.get(JAVA_LONG, 0);
    }

    /**
     * The unit in bytes ep4j sizes allocations in on {@code context}'s device: a multiple of both
     * the minimum (required) and the recommended granularity (2 MiB on Hopper).
     */
    public static long allocationUnit(CudaContext context, int handleTypes) {
        return unit(granularity(context, handleTypes, false), granularity(context, handleTypes, true));
    }

    /** The least common multiple of two granularities (both > 0): the recommended one whenever the minimum divides it. */
    public static long unit(long minimum, long recommended) {
        if (minimum <= 0) {
            throw new InvalidArgumentException("minimum", minimum, "a positive granularity in bytes");
        }
        if (recommended <= 0) {
            throw new InvalidArgumentException("recommended", recommended, "a positive granularity in bytes");
        }
        long a = minimum;
        long b = recommended;
        while (b != 0) {
            long t = a % b;
            a = b;
            b = t;
        }
        return Math.multiplyExact(minimum / a, recommended);
    }

    /** {@code bytes} (> 0) rounded up to a multiple of {@code unit} (> 0), in bytes. */
    public static long roundUp(long bytes, long unit) {
        if (unit <= 0) {
            throw new InvalidArgumentException("unit", unit, "a positive granularity in bytes");
        }
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "a positive allocation size");
        }
        long units = (bytes - 1) / unit + 1;
        if (units > Long.MAX_VALUE / unit) {
            throw new InvalidArgumentException("bytes", bytes, "a size that rounds up to a multiple of " + unit
                    + " below 2^63");
        }
        return units * unit;
    }
}
