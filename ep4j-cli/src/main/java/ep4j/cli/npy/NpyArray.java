package ep4j.cli.npy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A C-ordered NumPy array in memory: element type, shape and little-endian data. The data is
 * native memory freed by the garbage collector, so arrays larger than a Java array can hold work.
 */
public final class NpyArray {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final NpyType type;
    private final long[] shape;
    private final long numel;
    private final MemorySegment data;

    private NpyArray(NpyType type, long[] shape, MemorySegment data) {
        this.type = type;
        this.shape = shape.clone();
        this.numel = numelOf(shape);
        if (data.byteSize() != numel * type.byteSize()) {
            throw new IllegalArgumentException("data holds " + data.byteSize() + " bytes, shape " + Arrays.toString(shape)
                    + " of " + type.descr() + " needs " + numel * type.byteSize());
        }
        this.data = data;
    }

    static long numelOf(long[] shape) {
        long n = 1;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    /** A zero-filled array. */
    public static NpyArray allocate(NpyType type, long... shape) {
        long bytes = Math.multiplyExact(numelOf(shape), (long) type.byteSize());
        MemorySegment seg = Arena.ofAuto().allocate(Math.max(bytes, 1), 64).asSlice(0, bytes);
        return new NpyArray(type, shape, seg);
    }

    /** An array over existing little-endian data (not copied). */
    public static NpyArray wrap(NpyType type, MemorySegment data, long... shape) {
        return new NpyArray(type, shape, data);
    }

    public static NpyArray ofFloats(float[] values, long... shape) {
        NpyArray a = allocate(NpyType.FLOAT32, shape);
        check(values.length, a);
        MemorySegment.copy(values, 0, a.data, F32, 0, values.length);
        return a;
    }

    public static NpyArray ofLongs(long[] values, long... shape) {
        NpyArray a = allocate(NpyType.INT64, shape);
        check(values.length, a);
        MemorySegment.copy(values, 0, a.data, I64, 0, values.length);
        return a;
    }

    public static NpyArray ofInts(int[] values, long... shape) {
        NpyArray a = allocate(NpyType.INT32, shape);
        check(values.length, a);
        MemorySegment.copy(values, 0, a.data, I32, 0, values.length);
        return a;
    }

    public static NpyArray ofBytes(byte[] values, long... shape) {
        NpyArray a = allocate(NpyType.UINT8, shape);
        check(values.length, a);
        MemorySegment.copy(values, 0, a.data, ValueLayout.JAVA_BYTE, 0, values.length);
        return a;
    }

    private static void check(int count, NpyArray a) {
        if (count != a.numel) {
            throw new IllegalArgumentException(count + " values for shape " + Arrays.toString(a.shape) + " (" + a.numel + ")");
        }
    }

    public NpyType type() {
        return type;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int ndim() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis];
    }

    public long numel() {
        return numel;
    }

    /** The little-endian element bytes, C order. */
    public MemorySegment data() {
        return data;
    }

    public float getFloat(long index) {
        require(NpyType.FLOAT32);
        return data.getAtIndex(F32, index);
    }

    public long getLong(long index) {
        require(NpyType.INT64);
        return data.getAtIndex(I64, index);
    }

    public int getInt(long index) {
        require(NpyType.INT32);
        return data.getAtIndex(I32, index);
    }

    public float[] toFloatArray() {
        require(NpyType.FLOAT32);
        return data.toArray(F32);
    }

    public long[] toLongArray() {
        require(NpyType.INT64);
        return data.toArray(I64);
    }

    public int[] toIntArray() {
        require(NpyType.INT32);
        return data.toArray(I32);
    }

    public byte[] toByteArray() {
        require(NpyType.UINT8);
        return data.toArray(ValueLayout.JAVA_BYTE);
    }

    private void require(NpyType wanted) {
        if (type != wanted) {
            throw new IllegalStateException("array is " + type.descr() + ", not " + wanted.descr());
        }
    }

    /**
     * Checks type and shape against what a caller needs; {@code -1} in {@code shape} accepts any
     * size. Throws an {@link NpyFormatException} naming {@code source} otherwise.
     */
    public NpyArray expect(String source, NpyType wanted, long... expectedShape) {
        return expect(source, null, wanted, expectedShape);
    }

    /**
     * As {@link #expect(String, NpyType, long...)}, and a shape mismatch also says where the
     * expected sizes come from ({@code why}, e.g. "hidden = 128 from meta.json"; null for nothing).
     */
    public NpyArray expect(String source, String why, NpyType wanted, long... expectedShape) {
        if (type != wanted) {
            throw new NpyFormatException(source, "dtype is '" + type.descr() + "', expected '" + wanted.descr() + "'");
        }
        boolean ok = expectedShape.length == shape.length;
        for (int i = 0; ok && i < shape.length; i++) {
            ok = expectedShape[i] < 0 || expectedShape[i] == shape[i];
        }
        if (!ok) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < expectedShape.length; i++) {
                sb.append(i > 0 ? ", " : "").append(expectedShape[i] < 0 ? "*" : Long.toString(expectedShape[i]));
            }
            throw new NpyFormatException(source, "shape is " + shapeString() + ", expected " + sb.append(')')
                    + (why == null ? "" : " (" + why + ")"));
        }
        return this;
    }

    /** The shape as NumPy prints it: {@code (3, 4)}, {@code (3,)}, {@code ()}. */
    public String shapeString() {
        return Npy.shapeTuple(shape);
    }

    @Override
    public String toString() {
        return "NpyArray[" + type.descr() + " " + shapeString() + "]";
    }
}
