package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A {@link PhysicalMemory} mapped at the start of an {@link AddressRange} ({@code cuMemMap}),
 * and which devices may access it ({@code cuMemSetAccess}). A new mapping is accessible from no
 * device, not even the one the memory is on: {@link #setAccess} grants it, per device, so that
 * exactly the memory mapped here is shared between GPUs (no context-wide peer access).
 *
 * <p>{@link #close()} unmaps ({@code cuMemUnmap}): no queued or running work may still use the
 * range. The range and the physical memory stay with their owners, who close them after this.
 */
public final class MemoryMapping extends DeviceRange implements AutoCloseable {
    private final Set<CudaDevice> access = new LinkedHashSet<>();

    private MemoryMapping(CudaContext context, long address, long byteSize) {
        super(context, address, byteSize);
    }

    /**
     * Maps all of {@code memory} at {@code range}'s first address, in {@code range}'s context;
     * {@code range} must be at least as large. No device can access it yet.
     */
    public static MemoryMapping map(AddressRange range, PhysicalMemory memory) {
        long bytes = memory.byteSize();
        if (bytes > range.byteSize()) {
            throw new InvalidArgumentException("range", range, "a range of at least " + bytes + " bytes (the size of "
                    + memory + ")");
        }
        long address = range.address();
        long handle = memory.handle();
        CudaContext context = range.context();
        context.acquire();
        try {
            context.activate();
            int r;
            try {
                r = (int) Cu.cuMemMap.invokeExact(address, bytes, 0L, handle, 0L);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
            if (r != CudaConstants.CUDA_SUCCESS) {
                throw Driver.failure(r, "cuMemMap(" + Native.hex(address) + ", " + bytes + " bytes, offset 0, "
                        + memory + ")");
            }
            return new MemoryMapping(context, address, bytes);
        } catch (RuntimeException | Error e) {
            context.release();
            throw e;
        }
    }

    /**
     * Lets each of {@code devices} read and write the whole mapping ({@code cuMemSetAccess},
     * READWRITE). A device named twice, or already granted, is granted once: several ranks may
     * share a GPU. Fails when a device cannot reach the memory (no peer path to its GPU).
     */
    public void setAccess(Collection<CudaDevice> devices) {
        ensureOpen();
        Set<CudaDevice> distinct = new LinkedHashSet<>(devices);
        if (distinct.isEmpty()) {
            throw new InvalidArgumentException("devices", devices, "at least one device");
        }
        int[] ordinals = distinct.stream().mapToInt(CudaDevice::ordinal).toArray();
        context.activate();
        int r;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment descs = arena.allocate(DriverStructs.CU_MEM_ACCESS_DESC, ordinals.length);
            DriverStructs.accessDescriptors(descs, ordinals, CudaConstants.CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
            try {
                r = (int) Cu.cuMemSetAccess.invokeExact(address, byteSize, descs, (long) ordinals.length);
            } catch (Throwable t) {
                throw Native.rethrow(t);
            }
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemSetAccess(" + Native.hex(address) + ", " + byteSize
                    + " bytes, READWRITE for devices " + Arrays.toString(ordinals) + ")");
        }
        synchronized (access) {
            access.addAll(distinct);
        }
    }

    /**
     * The access {@code device} has to this mapping as the driver reports it ({@code cuMemGetAccess}):
     * {@code CU_MEM_ACCESS_FLAGS_PROT_NONE}, {@code _READ} or {@code _READWRITE}.
     */
    public int accessFlags(CudaDevice device) {
        ensureOpen();
        context.activate();
        MemorySegment scratch = Scratch.get();
        MemorySegment out = scratch.asSlice(0, 8);
        MemorySegment location = scratch.asSlice(16, DriverStructs.CU_MEM_LOCATION.byteSize());
        DriverStructs.deviceLocation(location, device.ordinal());
        int r;
        try {
            r = (int) Cu.cuMemGetAccess.invokeExact(out, location, address);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
        if (r != CudaConstants.CUDA_SUCCESS) {
            throw Driver.failure(r, "cuMemGetAccess(device " + device.ordinal() + ", " + Native.hex(address) + ")");
        }
        return (int) out.get(JAVA_LONG, 0);
    }

    /** The devices granted access by {@link #setAccess}, in the order first granted. */
    public Set<CudaDevice> accessibleFrom() {
        synchronized (access) {
            return Collections.unmodifiableSet(new LinkedHashSet<>(access));
        }
    }


    @Override
    int destroy() throws Throwable {
        return (int) Cu.cuMemUnmap.invokeExact(address, byteSize);
    }

    @Override
    String destroyCall() {
        return "cuMemUnmap(" + Native.hex(address) + ", " + byteSize + " bytes)";
    }
}
