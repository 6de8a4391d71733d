package ep4j.cuda.memory;

import ep4j.InvalidArgumentException;
import ep4j.cuda.driver.AddressRange;
import ep4j.cuda.driver.CudaConstants;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaDevice;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.CudaUnavailableException;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.MemoryMapping;
import ep4j.cuda.driver.PhysicalMemory;
import ep4j.cuda.driver.VirtualMemory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import ep4j.spi.Closing;

/**
 * One rank's communication memory (DESIGN section 3, "Symmetric memory, fixed at creation"):
 * pinned device memory on the rank's GPU ({@code cuMemCreate}, exportable as a POSIX file
 * descriptor), mapped into this process ({@code cuMemAddressReserve} + {@code cuMemMap}) and
 * readable and writable from the rank's own device and from the given peer devices
 * ({@code cuMemSetAccess}). Only this memory is shared: no context-wide peer access is enabled.
 *
 * <p>Sizes are in bytes and rounded up to the device's allocation unit
 * ({@link VirtualMemory#allocationUnit}, 2 MiB on Hopper); {@link #byteSize()} is the rounded
 * size. The memory is zero-filled at creation.
 *
 * <p>Ownership: this object owns the physical allocation, the address range and the mapping;
 * {@link #close()} unmaps, releases and frees the range, in that order, and goes on after a
 * failure (the first is thrown, the others are suppressed in it). Work that uses the memory,
 * on any device, must have finished before close (synchronise the streams first); closing twice
 * is harmless; any other use after close throws {@link IllegalStateException}.
 *
 * <p>Across processes: {@link #exportFd()} gives a file descriptor for the allocation and
 * {@link #importFd} maps one from another process (the memory is freed once the exporter and
 * every importer have closed).
 */
public final class SymmetricMemory implements AutoCloseable {
    private static final int HANDLE_TYPES = CudaConstants.CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;

    private final CudaContext context;
    private final PhysicalMemory memory;
    private final AddressRange range;
    private final MemoryMapping mapping;
    private final long address;
    private volatile boolean closed;

    private SymmetricMemory(CudaContext context, PhysicalMemory memory, AddressRange range, MemoryMapping mapping) {
        this.context = context;
        this.memory = memory;
        this.range = range;
        this.mapping = mapping;
        this.address = mapping.address();
    }

    /**
     * Allocates at least {@code bytes} (> 0) on {@code context}'s device, zero-filled, accessible
     * from that device and from each of {@code peers} (devices may repeat or include the owner:
     * each is granted once). Each peer must be able to reach the owner's memory
     * ({@link CudaDevice#canAccessPeer}).
     */
    public static SymmetricMemory allocate(CudaContext context, long bytes, Collection<CudaDevice> peers) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "a positive size in bytes");
        }
        Objects.requireNonNull(context, "context");
        Objects.requireNonNull(peers, "peers");
        CudaDevice owner = context.device();
        Set<CudaDevice> access = new LinkedHashSet<>();
        access.add(owner);
        access.addAll(peers);
        requireSupport(owner);
        for (CudaDevice peer : access) {
            if (!peer.canAccessPeer(owner)) {
                throw new InvalidArgumentException("peers", peers, "devices that can reach device " + owner.ordinal()
                        + "'s memory (cuDeviceCanAccessPeer says device " + peer.ordinal() + " cannot)");
            }
        }
        long unit = VirtualMemory.allocationUnit(context, HANDLE_TYPES);
        long size = VirtualMemory.roundUp(bytes, unit);
        PhysicalMemory memory = null;
        AddressRange range = null;
        MemoryMapping mapping = null;
        try {
            memory = PhysicalMemory.create(context, size, HANDLE_TYPES);
            range = AddressRange.reserve(context, size, alignment(unit));
            mapping = MemoryMapping.map(range, memory);
            mapping.setAccess(access);
            // A stream of its own: the legacy default stream would also wait for the context's other work.
            try (CudaStream stream = CudaStream.create(context)) {
                DeviceMemory.zeroAsync(mapping.address(), size, stream);
                stream.synchronize();
            }
            return new SymmetricMemory(context, memory, range, mapping);
        } catch (RuntimeException | Error e) {
            Closing.closeAllInto(e, mapping, memory, range);
            throw e;
        }
    }

    /**
     * Maps the allocation another process exported ({@link #exportFd()}) into this one, readable
     * and writable from {@code context}'s device. {@code bytes} is the exporter's
     * {@link #byteSize()}; {@code fd} stays the caller's to close (it may be closed as soon as
     * this returns). The contents are the exporter's: nothing is zeroed.
     */
    public static SymmetricMemory importFd(CudaContext context, int fd, long bytes) {
        if (fd < 0) {
            throw new InvalidArgumentException("fd", fd, "an open file descriptor from exportFd()");
        }
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "the exporter's byteSize() (> 0)");
        }
        Objects.requireNonNull(context, "context");
        requireSupport(context.device());
        long unit = VirtualMemory.allocationUnit(context, HANDLE_TYPES);
        PhysicalMemory memory = null;
        AddressRange range = null;
        MemoryMapping mapping = null;
        try {
            memory = PhysicalMemory.importFd(context, fd, bytes);
            range = AddressRange.reserve(context, bytes, alignment(unit));
            mapping = MemoryMapping.map(range, memory);
            mapping.setAccess(List.of(context.device()));
            return new SymmetricMemory(context, memory, range, mapping);
        } catch (RuntimeException | Error e) {
            Closing.closeAllInto(e, mapping, memory, range);
            throw e;
        }
    }

    /**
     * A new POSIX file descriptor for this allocation, to send to another process for
     * {@link #importFd}; the caller owns it and must close it.
     */
    public int exportFd() {
        ensureOpen();
        return memory.exportFd();
    }

    /** The first address (a CUdeviceptr, the same in every context of this process). */
    public long address() {
        ensureOpen();
        return address;
    }

    /** Size in bytes: the requested size rounded up to the allocation unit. */
    public long byteSize() {
        return mapping.byteSize();
    }

    /** The context the mapping was made in: the owner's, or for an import the importing device's. */
    public CudaContext context() {
        return context;
    }

    /** True when mapped from another allocation's file descriptor rather than allocated here. */
    public boolean isImported() {
        return memory.isImported();
    }

    /** The devices that may access this memory (the owner first). */
    public Set<CudaDevice> accessibleFrom() {
        return mapping.accessibleFrom();
    }

    /** The access {@code device} has here, as the driver reports it ({@code CU_MEM_ACCESS_FLAGS_PROT_*}). */
    public int accessFlags(CudaDevice device) {
        ensureOpen();
        return mapping.accessFlags(device);
    }

    /** Unmaps, releases the allocation and frees the address range; streams using it must be synchronised first. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        RuntimeException failure = Closing.closeAll(mapping, memory, range);
        if (failure != null) {
            throw failure;
        }
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        List<Integer> devices = new ArrayList<>();
        for (CudaDevice d : mapping.accessibleFrom()) {
            devices.add(d.ordinal());
        }
        return "SymmetricMemory[0x" + Long.toHexString(address) + ", " + byteSize() + " bytes, "
                + (isImported() ? "imported on " : "") + "device " + context.device().ordinal() + ", accessible from "
                + devices + (closed ? ", closed]" : "]");
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    private static void requireSupport(CudaDevice device) {
        if (!VirtualMemory.supported(device)) {
            throw new CudaUnavailableException("device " + device.ordinal() + " (" + device.name() + ") does not support"
                    + " virtual memory management with POSIX file descriptors (CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_"
                    + "MANAGEMENT_SUPPORTED, ..._HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED)");
        }
    }

    /** The range's alignment: the allocation unit when it is a power of two (always so far), else the default. */
    private static long alignment(long unit) {
        return Long.bitCount(unit) == 1 ? unit : 0;
    }
}
