package ep4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A dense, row-major view of typed memory: host memory (a {@link MemorySegment}) or a device
 * pointer on one GPU. A tensor either wraps memory somebody else owns ({@link #ofHost},
 * {@link #ofDevice}), in which case {@link #close()} does nothing, or owns it (tensors ep4j
 * allocates), in which case {@link #close()} frees it. Closing twice is harmless; reading a
 * closed tensor's memory is an {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {
    /** The device index of host memory. */
    public static final int HOST = -1;

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private final MemorySegment segment;
    private final long address;
    private final int device;
    private final AutoCloseable owner;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Tensor(DType dtype, long[] shape, MemorySegment segment, long address, int device, AutoCloseable owner) {
        this.dtype = dtype;
        this.shape = shape.clone();
        long n = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new InvalidArgumentException("shape[" + i + "]", shape[i], "a size >= 0");
            }
            n = Math.multiplyExact(n, shape[i]);
        }
        this.numel = n;
        this.segment = segment;
        this.address = address;
        this.device = device;
        this.owner = owner;
    }

    /** A view of host memory that the caller owns. The segment must hold at least the tensor's bytes. */
    public static Tensor ofHost(MemorySegment segment, DType dtype, long... shape) {
        Tensor t = new Tensor(dtype, shape, segment, segment.address(), HOST, null);
        if (segment.byteSize() < t.byteSize()) {
            throw new InvalidArgumentException("segment.byteSize()", segment.byteSize(),
                    "at least " + t.byteSize() + " bytes for " + dtype + Arrays.toString(shape));
        }
        return new Tensor(dtype, shape, segment.asSlice(0, t.byteSize()), segment.address(), HOST, null);
    }

    /** A view of device memory that the caller owns: a CUDA device pointer on GPU {@code device}. */
    public static Tensor ofDevice(long pointer, int device, DType dtype, long... shape) {
        if (device < 0) {
            throw new InvalidArgumentException("device", device, "a GPU index >= 0");
        }
        if (pointer == 0 && numelOf(shape) > 0) {
            throw new InvalidArgumentException("pointer", 0, "a non-null device pointer");
        }
        return new Tensor(dtype, shape, null, pointer, device, null);
    }

    /** A tensor over memory that {@code owner} frees when the tensor is closed (for backends). */
    public static Tensor owned(MemorySegment hostSegment, long address, int device, DType dtype, AutoCloseable owner,
            long... shape) {
        return new Tensor(dtype, shape, hostSegment, address, device, owner);
    }

    /** Zero-filled host memory owned by the returned tensor. */
    public static Tensor allocateHost(DType dtype, long... shape) {
        Arena arena = Arena.ofShared();
        long bytes = Math.multiplyExact(numelOf(shape), (long) dtype.byteSize());
        MemorySegment seg = arena.allocate(Math.max(bytes, 1), 64).asSlice(0, bytes);
        return new Tensor(dtype, shape, seg, seg.address(), HOST, arena);
    }

    public static Tensor ofLongs(long[] values, long... shape) {
        Tensor t = allocateHost(DType.INT64, shape);
        checkCount(values.length, t);
        MemorySegment.copy(values, 0, t.segment, LONG, 0, values.length);
        return t;
    }

    public static Tensor ofInts(int[] values, long... shape) {
        Tensor t = allocateHost(DType.INT32, shape);
        checkCount(values.length, t);
        MemorySegment.copy(values, 0, t.segment, INT, 0, values.length);
        return t;
    }

    public static Tensor ofFloats(float[] values, long... shape) {
        Tensor t = allocateHost(DType.FLOAT32, shape);
        checkCount(values.length, t);
        MemorySegment.copy(values, 0, t.segment, FLOAT, 0, values.length);
        return t;
    }

    /** bf16 values from raw bf16 bit patterns. */
    public static Tensor ofBf16Bits(short[] bits, long... shape) {
        Tensor t = allocateHost(DType.BF16, shape);
        checkCount(bits.length, t);
        MemorySegment.copy(bits, 0, t.segment, SHORT, 0, bits.length);
        return t;
    }

    public static Tensor ofBytes(byte[] values, DType dtype, long... shape) {
        Tensor t = allocateHost(dtype, shape);
        if (values.length != t.byteSize()) {
            throw new InvalidArgumentException("values.length", values.length, t.byteSize() + " bytes");
        }
        MemorySegment.copy(values, 0, t.segment, ValueLayout.JAVA_BYTE, 0, values.length);
        return t;
    }

    private static void checkCount(int count, Tensor t) {
        if (count != t.numel) {
            t.close();
            throw new InvalidArgumentException("values.length", count, t.numel + " values for shape " + Arrays.toString(t.shape));
        }
    }

    private static long numelOf(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n = Math.multiplyExact(n, Math.max(s, 0));
        }
        return n;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis];
    }

    public long numel() {
        return numel;
    }

    public long byteSize() {
        return numel * dtype.byteSize();
    }

    /** Bytes of one slice along the first axis (a row of a 2-D tensor). */
    public long rowBytes() {
        return shape.length == 0 || shape[0] == 0 ? 0 : byteSize() / shape[0];
    }

    public boolean isHost() {
        return device == HOST;
    }

    /** {@link #HOST} for host memory, else the GPU index. */
    public int device() {
        return device;
    }

    /** The native address: a host address, or the device pointer. */
    public long address() {
        checkOpen();
        return address;
    }

    /** The host memory of this tensor. */
    public MemorySegment segment() {
        checkOpen();
        if (segment == null) {
            throw new IllegalStateException("tensor " + this + " lives on GPU " + device + ", not in host memory");
        }
        return segment;
    }

    public boolean isClosed() {
        return closed.get();
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("tensor " + dtype + Arrays.toString(shape) + " was closed");
        }
    }

    public long[] toLongArray() {
        expect(DType.INT64);
        return segment().toArray(ValueLayout.JAVA_LONG);
    }

    public int[] toIntArray() {
        expect(DType.INT32);
        return segment().toArray(ValueLayout.JAVA_INT);
    }

    /** float32 values as they are, or bf16 values widened exactly to float32. */
    public float[] toFloatArray() {
        if (dtype == DType.BF16) {
            short[] bits = segment().toArray(ValueLayout.JAVA_SHORT);
            float[] out = new float[bits.length];
            for (int i = 0; i < bits.length; i++) {
                out[i] = Float.intBitsToFloat((bits[i] & 0xFFFF) << 16);
            }
            return out;
        }
        expect(DType.FLOAT32);
        return segment().toArray(ValueLayout.JAVA_FLOAT);
    }

    public short[] toShortArray() {
        if (dtype.byteSize() != 2) {
            throw new InvalidArgumentException("tensor.dtype", dtype, "a 2-byte type");
        }
        return segment().toArray(ValueLayout.JAVA_SHORT);
    }

    public byte[] toByteArray() {
        return segment().toArray(ValueLayout.JAVA_BYTE);
    }

    private DType expect(DType wanted) {
        if (dtype != wanted) {
            throw new InvalidArgumentException("tensor.dtype", dtype, wanted.name());
        }
        return dtype;
    }

    /** Frees the memory if this tensor owns it; a view's close only marks it closed for this handle. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && owner != null) {
            try {
                owner.close();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new EpException("freeing tensor memory failed", e);
            }
        }
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape) + (device == HOST ? "@host" : "@cuda:" + device);
    }
}
