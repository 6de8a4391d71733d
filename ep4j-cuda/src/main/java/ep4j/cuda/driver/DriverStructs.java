package ep4j.cuda.driver;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.List;

/**
 * The structs of cuda.h that ep4j passes to the driver, as FFM layouts with cuda.h's type and
 * field names. The build prints the C layouts from cuda.h itself (src/build/contract_table.cu,
 * {@code driver_struct}/{@code driver_field} rows) and a CI test compares every one of
 * {@link #ALL} with them, field by field: a wrong offset fails the build, not a driver call.
 *
 * <p>Fields are written by byte offset (the {@code *_OFFSET} constants below, taken from the
 * layouts), into zeroed memory: reserved fields and fields ep4j does not set stay zero, as the
 * driver requires.
 */
public final class DriverStructs {
    private DriverStructs() {}

    /** {@code CUmemLocation}: {@code { CUmemLocationType type; int id; }}, 8 bytes. */
    public static final StructLayout CU_MEM_LOCATION = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("id")).withName("CUmemLocation");

    /** {@code CUmemAllocationProp} (CUDA 13: {@code CUmemAllocationProp_v1}), 32 bytes. */
    public static final StructLayout CU_MEM_ALLOCATION_PROP = MemoryLayout.structLayout(
            JAVA_INT.withName("type"),
            JAVA_INT.withName("requestedHandleTypes"),
            CU_MEM_LOCATION.withName("location"),
            ADDRESS.withName("win32HandleMetaData"),
            MemoryLayout.structLayout(
                    JAVA_BYTE.withName("compressionType"),
                    JAVA_BYTE.withName("gpuDirectRDMACapable"),
                    JAVA_SHORT.withName("usage"),
                    MemoryLayout.sequenceLayout(4, JAVA_BYTE).withName("reserved")).withName("allocFlags"))
            .withName("CUmemAllocationProp");

    /** {@code CUmemAccessDesc}: {@code { CUmemLocation location; CUmemAccess_flags flags; }}, 12 bytes. */
    public static final StructLayout CU_MEM_ACCESS_DESC = MemoryLayout.structLayout(
            CU_MEM_LOCATION.withName("location"),
            JAVA_INT.withName("flags")).withName("CUmemAccessDesc");

    /**
     * {@code CUlaunchAttribute}: {@code { CUlaunchAttributeID id; char pad[4]; CUlaunchAttributeValue value; }},
     * 72 bytes; the 64-byte union is declared as eight longs (its alignment), and ep4j writes only
     * its first int.
     */
    public static final StructLayout CU_LAUNCH_ATTRIBUTE = MemoryLayout.structLayout(
            JAVA_INT.withName("id"),
            MemoryLayout.sequenceLayout(4, JAVA_BYTE).withName("pad"),
            MemoryLayout.sequenceLayout(8, JAVA_LONG).withName("value")).withName("CUlaunchAttribute");

    /** {@code CUlaunchConfig}, 56 bytes: what {@code cuLaunchKernelEx} launches. */
    public static final StructLayout CU_LAUNCH_CONFIG = MemoryLayout.structLayout(
            JAVA_INT.withName("gridDimX"),
            JAVA_INT.withName("gridDimY"),
            JAVA_INT.withName("gridDimZ"),
            JAVA_INT.withName("blockDimX"),
            JAVA_INT.withName("blockDimY"),
            JAVA_INT.withName("blockDimZ"),
            JAVA_INT.withName("sharedMemBytes"),
            MemoryLayout.paddingLayout(4),
            ADDRESS.withName("hStream"),
            ADDRESS.withName("attrs"),
            JAVA_INT.withName("numAttrs"),
            MemoryLayout.paddingLayout(4)).withName("CUlaunchConfig");

    /** Every driver struct ep4j declares: the CI check covers each. */
    public static final List<StructLayout> ALL = List.of(CU_MEM_LOCATION, CU_MEM_ALLOCATION_PROP, CU_MEM_ACCESS_DESC,
            CU_LAUNCH_ATTRIBUTE, CU_LAUNCH_CONFIG);

    static final long LOCATION_TYPE_OFFSET = CU_MEM_LOCATION.byteOffset(groupElement("type"));
    static final long LOCATION_ID_OFFSET = CU_MEM_LOCATION.byteOffset(groupElement("id"));
    static final long PROP_TYPE_OFFSET = CU_MEM_ALLOCATION_PROP.byteOffset(groupElement("type"));
    static final long PROP_HANDLE_TYPES_OFFSET = CU_MEM_ALLOCATION_PROP.byteOffset(groupElement("requestedHandleTypes"));
    static final long PROP_LOCATION_OFFSET = CU_MEM_ALLOCATION_PROP.byteOffset(groupElement("location"));
    static final long ACCESS_LOCATION_OFFSET = CU_MEM_ACCESS_DESC.byteOffset(groupElement("location"));
    static final long ACCESS_FLAGS_OFFSET = CU_MEM_ACCESS_DESC.byteOffset(groupElement("flags"));
    static final long ATTRIBUTE_ID_OFFSET = CU_LAUNCH_ATTRIBUTE.byteOffset(groupElement("id"));
    static final long ATTRIBUTE_VALUE_OFFSET = CU_LAUNCH_ATTRIBUTE.byteOffset(groupElement("value"));
    static final long CONFIG_GRID_X_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("gridDimX"));
    static final long CONFIG_GRID_Y_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("gridDimY"));
    static final long CONFIG_GRID_Z_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("gridDimZ"));
    static final long CONFIG_BLOCK_X_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("blockDimX"));
    static final long CONFIG_BLOCK_Y_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("blockDimY"));
    static final long CONFIG_BLOCK_Z_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("blockDimZ"));
    static final long CONFIG_SHARED_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("sharedMemBytes"));
    static final long CONFIG_STREAM_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("hStream"));
    static final long CONFIG_ATTRS_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("attrs"));
    static final long CONFIG_NUM_ATTRS_OFFSET = CU_LAUNCH_CONFIG.byteOffset(groupElement("numAttrs"));

    /** Writes a device location (type DEVICE, id = the ordinal) at {@code at}. */
    static void deviceLocation(MemorySegment at, int ordinal) {
        at.set(JAVA_INT, LOCATION_TYPE_OFFSET, CudaConstants.CU_MEM_LOCATION_TYPE_DEVICE);
        at.set(JAVA_INT, LOCATION_ID_OFFSET, ordinal);
    }

    /**
     * A zeroed {@code CUmemAllocationProp} at the start of {@code room}: pinned memory on device
     * {@code ordinal}, exportable as {@code handleTypes} (a {@code CU_MEM_HANDLE_TYPE_*} mask).
     */
    static MemorySegment allocationProp(MemorySegment room, int ordinal, int handleTypes) {
        MemorySegment prop = room.asSlice(0, CU_MEM_ALLOCATION_PROP.byteSize()).fill((byte) 0);
        prop.set(JAVA_INT, PROP_TYPE_OFFSET, CudaConstants.CU_MEM_ALLOCATION_TYPE_PINNED);
        prop.set(JAVA_INT, PROP_HANDLE_TYPES_OFFSET, handleTypes);
        deviceLocation(prop.asSlice(PROP_LOCATION_OFFSET, CU_MEM_LOCATION.byteSize()), ordinal);
        return prop;
    }

    /** Writes {@code ordinals.length} {@code CUmemAccessDesc}s (device i gets {@code flags}) into {@code array}. */
    static void accessDescriptors(MemorySegment array, int[] ordinals, int flags) {
        long size = CU_MEM_ACCESS_DESC.byteSize();
        for (int i = 0; i < ordinals.length; i++) {
            MemorySegment desc = array.asSlice(i * size, size);
            deviceLocation(desc.asSlice(ACCESS_LOCATION_OFFSET, CU_MEM_LOCATION.byteSize()), ordinals[i]);
            desc.set(JAVA_INT, ACCESS_FLAGS_OFFSET, flags);
        }
    }
}
