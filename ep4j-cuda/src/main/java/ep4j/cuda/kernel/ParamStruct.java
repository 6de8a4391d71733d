package ep4j.cuda.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Lays out a kernel's parameter struct the way the CUDA compiler does (each field at its
 * natural alignment, in declaration order), so a kernel can take one
 * {@code const __grid_constant__ Params p} instead of dozens of arguments. One instance is
 * reused per caller; {@link #begin()} starts a new struct.
 */
public final class ParamStruct implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment bytes = arena.allocate(4096, 16);
    private long offset;

    public ParamStruct begin() {
        offset = 0;
        return this;
    }

    private long place(long size) {
        offset = (offset + size - 1) / size * size;
        long at = offset;
        offset += size;
        return at;
    }

    public ParamStruct i32(int v) {
        bytes.set(ValueLayout.JAVA_INT, place(4), v);
        return this;
    }

    public ParamStruct i64(long v) {
        bytes.set(ValueLayout.JAVA_LONG, place(8), v);
        return this;
    }

    /** A device or host-mapped pointer; 0 is nullptr. */
    public ParamStruct ptr(long v) {
        return i64(v);
    }

    /** A fixed array of {@code slots} pointers, the first {@code values.length} given, the rest null. */
    public ParamStruct ptrs(long[] values, int slots) {
        for (int i = 0; i < slots; i++) {
            ptr(i < values.length ? values[i] : 0);
        }
        return this;
    }

    /** The finished struct, padded to 8-byte alignment. */
    public MemorySegment end() {
        long size = (offset + 7) / 8 * 8;
        return bytes.asSlice(0, size);
    }

    @Override
    public void close() {
        arena.close();
    }
}
