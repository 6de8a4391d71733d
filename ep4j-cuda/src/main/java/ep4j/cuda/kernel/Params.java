package ep4j.cuda.kernel;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The bytes of one kernel parameter struct ({@link CStruct}), filled field by field by name and
 * passed to a launch as one {@code __grid_constant__} argument. Reused from launch to launch by
 * one thread; {@link #clear()} zeroes it (every pointer null, every number 0), so a field left
 * unset is null, never a value from an earlier launch.
 */
public final class Params implements AutoCloseable {
    private final CStruct struct;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment bytes;

    public Params(CStruct struct) {
        this.struct = struct;
        this.bytes = arena.allocate(struct.size(), 16);
    }

    public CStruct struct() {
        return struct;
    }

    /** Zeroes every field; returns this. */
    public Params clear() {
        bytes.fill((byte) 0);
        return this;
    }

    public Params set(CStruct.I32 field, int value) {
        field.checkOwner(struct);
        bytes.set(JAVA_INT, field.offset(), value);
        return this;
    }

    public Params set(CStruct.I32 field, boolean value) {
        return set(field, value ? 1 : 0);
    }

    public Params set(CStruct.I64 field, long value) {
        field.checkOwner(struct);
        bytes.set(JAVA_LONG, field.offset(), value);
        return this;
    }

    public Params set(CStruct.F32 field, float value) {
        field.checkOwner(struct);
        bytes.set(JAVA_FLOAT, field.offset(), value);
        return this;
    }

    /** A pointer field: the address (0 is null). */
    public Params set(CStruct.Ptr field, long address) {
        field.checkOwner(struct);
        bytes.set(JAVA_LONG, field.offset(), address);
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
            bytes.set(JAVA_LONG, field.offset() + 8L * i, i < addresses.length ? addresses[i] : 0L);
        }
        return this;
    }

    /** The struct's bytes, for {@code KernelArgs.struct}. */
    public MemorySegment segment() {
        return bytes;
    }

    @Override
    public void close() {
        arena.close();
    }
}
