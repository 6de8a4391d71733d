package ep4j.cuda.kernel;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The bytes of one kernel parameter struct ({@link CStruct}), filled field by field by name and
 * passed to a launch as one {@code __grid_constant__} argument. Reused from launch to launch by
 * one thread; {@link #clear()} zeroes it (every pointer null, every number 0), so a field left
 * unset is null, never a value from an earlier launch.
 *
 * <p>The fields are written into a {@code long[]} image of the struct (little-endian, as the
 * GPU reads it), and {@link #segment()} copies the image out in one bulk copy. A launch writes
 * some forty fields; written one by one through {@code MemorySegment.set}, they cost more host
 * time than the launch itself (measured: 30% of a low-latency dispatch's host path, in
 * {@code VarHandle} guards that the JIT had not inlined), while an array store always compiles
 * to one instruction.
 */
public final class Params implements AutoCloseable {
    static {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("kernel parameters are laid out for a little-endian host");
        }
    }

    private final CStruct struct;
    private final Arena arena = Arena.ofShared();
    private final long[] image;
    private final MemorySegment whole; // the image's size, 8-byte multiple
    private final MemorySegment bytes; // the struct's size

    public Params(CStruct struct) {
        this.struct = struct;
        this.image = new long[(int) ((struct.size() + 7) / 8)];
        this.whole = arena.allocate(8L * image.length, 16);
        this.bytes = whole.asSlice(0, struct.size());
    }

    public CStruct struct() {
        return struct;
    }

    /** Zeroes every field; returns this. */
    public Params clear() {
        Arrays.fill(image, 0L);
        return this;
    }

    public Params set(CStruct.I32 field, int value) {
        field.checkOwner(struct);
        putInt(field.offset(), value);
        return this;
    }

    public Params set(CStruct.I32 field, boolean value) {
        return set(field, value ? 1 : 0);
    }

    public Params set(CStruct.I64 field, long value) {
        field.checkOwner(struct);
        putLong(field.offset(), value);
        return this;
    }

    public Params set(CStruct.F32 field, float value) {
        field.checkOwner(struct);
        putInt(field.offset(), Float.floatToRawIntBits(value));
        return this;
    }

    /** A pointer field: the address (0 is null). */
    public Params set(CStruct.Ptr field, long address) {
        field.checkOwner(struct);
        putLong(field.offset(), address);
        return this;
    }

    /** A pointer array: the first {@code addresses.length} entries, the rest null. */
    public Params set(CStruct.Ptrs field, long[] addresses) {
        field.checkOwner(struct);
        if (addresses.length > field.count()) {
            throw new InvalidArgumentException(struct.name() + "." + field.name(), addresses.length + " pointers",
                    "at most " + field.count());
        }
        for (int i = 0; i < field.count(); i++) {
            putLong(field.offset() + 8L * i, i < addresses.length ? addresses[i] : 0L);
        }
        return this;
    }

    /** The struct's bytes as set so far, for {@code KernelArgs.struct}. */
    public MemorySegment segment() {
        MemorySegment.copy(image, 0, whole, JAVA_LONG_UNALIGNED, 0, image.length);
        return bytes;
    }

    // C places an int at a multiple of 4 and a long or pointer at a multiple of 8 (CStruct checks
    // the offsets against contract.cuh), so an int is one half of an image element.
    private void putInt(long offset, int value) {
        int i = (int) (offset >>> 3);
        int shift = (int) (offset & 4) << 3;
        image[i] = image[i] & ~(0xFFFF_FFFFL << shift) | (value & 0xFFFF_FFFFL) << shift;
    }

    private void putLong(long offset, long value) {
        if ((offset & 7) != 0) {
            throw new IllegalStateException(struct.name() + ": a 64-bit field at offset " + offset);
        }
        image[(int) (offset >>> 3)] = value;
    }

    @Override
    public void close() {
        arena.close();
    }
}
