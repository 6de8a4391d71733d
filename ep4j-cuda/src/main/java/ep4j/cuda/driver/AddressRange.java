package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;

/**
 * A reserved range of this process's (unified) virtual address space, {@code cuMemAddressReserve}:
 * addresses only, no memory, until a {@link MemoryMapping} maps a {@link PhysicalMemory} there.
 * {@link #close()} gives the range back ({@code cuMemAddressFree}); it must be unmapped first.
 *
 * <p>Address ranges belong to the process, not to a device; {@code context} only says whose
 * context the calls run in, and stays alive while the range is open.
 */
public final class AddressRange extends DeviceRange implements AutoCloseable {

    private AddressRange(CudaContext context, long address, long byteSize) {
        super(context, address, byteSize);
    }

    /**
     * Reserves {@code bytes} (> 0, a multiple of the granularity of what will be mapped) aligned
     * to {@code alignment} bytes (a power of two, or 0 for the driver's default).
     */
    public static AddressRange reserve(CudaContext context, long bytes, long alignment) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "a positive multiple of the allocation granularity");
        }
        if (alignment < 0 || (alignment & (alignment - 1)) != 0) {
            throw new InvalidArgumentException("alignment", alignment, "0 (the default) or a power of two");
        }
        context.acquire();
        try {
            context.activate();
            MemorySegment out = Scratch.get();
            int r;
            try {
                r = (int) Cu.cuMemAddressReserve.invokeExact(out, bytes, alignment, 0L, 0L);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuMemAddressReserve(" + bytes + " bytes, alignment " + alignment + ")");
            }
            return new AddressRange(context, out.get(JAVA_LONG, 0), bytes);
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }


    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuMemAddressFree.invokeExact(address, byteSize);
    }

    @Override
    String destroyCall() {
        return "cuMemAddressFree(" + Native.hex(address) + ", " + byteSize + " bytes)";
    }
}
