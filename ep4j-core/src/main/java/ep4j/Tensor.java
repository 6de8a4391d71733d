package ep4j;

import ep4j.codec.BFloat16;
import ep4j.spi.Generation;
import ep4j.spi.HostMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;

/**
 * A dense, row-major view of typed memory: host memory (a {@link MemorySegment}) or a device
 * pointer on one GPU. Values are little-endian. Shapes are in elements, sizes in bytes.
 *
 * <p><b>Who frees the memory</b> depends on where the tensor came from:
 * <ul>
 *   <li>{@link #ofHost} and {@link #ofDevice} wrap memory the caller owns: {@link #close()} only
 *       ends this tensor's use; the memory stays the caller's.</li>
 *   <li>{@link #allocateHost(DType, long...)} and the {@code of...} factories ({@link #ofLongs},
 *       {@link #ofInts}, {@link #ofFloats}, {@link #ofBf16}, {@link #ofBf16Bits},
 *       {@link #ofBytes}) take memory the garbage collector manages (an
 *       {@linkplain Arena#ofAuto() automatic arena}): there is nothing to free by hand. It is
 *       freed once neither the tensor nor any segment taken from it is reachable;
 *       {@link #close()} ends the tensor's use at once, the memory goes with the next
 *       collections. Convenient for inputs and tests; such memory counts against the JVM's
 *       direct memory limit ({@code -XX:MaxDirectMemorySize}, the heap size by default).</li>
 *   <li>{@link #allocateHost(Arena, DType, long...)} takes memory of the caller's arena: it is
 *       freed when that arena closes (deterministically, for large buffers).</li>
 *   <li>Tensors returned by ep4j ({@link EpGroup#allocate(int, DType, long...)},
 *       {@link EpGroup#upload}, {@link EpGroup#download}, the tensors of results) own their
 *       memory: {@link #close()} frees it at once (results free theirs when closed).</li>
 * </ul>
 * Closing twice is harmless; reading a closed tensor's memory ({@link #segment()},
 * {@link #address()}, the {@code to...Array} methods) is an {@link IllegalStateException}.
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
    private final @Nullable MemorySegment segment;
    private final long address;
    private final int device;
    private final @Nullable AutoCloseable owner;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** For a view of a backend's fixed memory: the region and the generation the view belongs to. */
    private final @Nullable Generation region;
    private final long generation;

    private Tensor(DType dtype, long[] shape, @Nullable MemorySegment segment, long address, int device,
            @Nullable AutoCloseable owner) {
        this(dtype, shape, segment, address, device, owner, null, 0);
    }

    private Tensor(DType dtype, long[] shape, @Nullable MemorySegment segment, long address, int device,
            @Nullable AutoCloseable owner, @Nullable Generation region, long generation) {
        this.region = region;
        this.generation = generation;
        HostMemory.byteSize(dtype, shape); // checks every size and the total
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = numelOf(shape);
        this.segment = segment;
        this.address = address;
        this.device = device;
        this.owner = owner;
    }

    /**
     * A view of host memory the caller owns (the tensor never frees it).
     *
     * @param segment host memory holding at least the tensor's bytes, from its start
     * @param dtype   the element type
     * @param shape   the sizes, each {@code >= 0}
     * @return the view (of the first {@code byteSize()} bytes of {@code segment})
     * @throws InvalidArgumentException when the segment is too small or a size is negative
     */
    public static Tensor ofHost(MemorySegment segment, DType dtype, long... shape) {
        long bytes = HostMemory.byteSize(dtype, shape);
        if (segment.byteSize() < bytes) {
            throw new InvalidArgumentException("segment.byteSize()", segment.byteSize(),
                    "at least " + bytes + " bytes for " + dtype + Arrays.toString(shape));
        }
        return new Tensor(dtype, shape, segment.asSlice(0, bytes), segment.address(), HOST, null);
    }

    /**
     * A view of device memory the caller owns (the tensor never frees it).
     *
     * @param pointer a CUDA device pointer (unified address space)
     * @param device  the GPU index, {@code >= 0}
     * @param dtype   the element type
     * @param shape   the sizes, each {@code >= 0}
     * @return the view
     * @throws InvalidArgumentException for a negative device, a null pointer with elements, or a
     *         negative size
     */
    public static Tensor ofDevice(long pointer, int device, DType dtype, long... shape) {
        if (device < 0) {
            throw new InvalidArgumentException("device", device, "a GPU index >= 0");
        }
        if (pointer == 0 && numelOf(shape) > 0) {
            throw new InvalidArgumentException("pointer", 0, "a non-null device pointer");
        }
        return new Tensor(dtype, shape, null, pointer, device, null);
    }

    /**
     * A tensor over memory that {@code owner} frees when the tensor is closed: how backends hand
     * out memory they allocated (a pool's block, a driver allocation).
     *
     * @param hostSegment the host memory, or null for device memory
     * @param address     the native address (host) or device pointer
     * @param device      {@link #HOST} or the GPU index
     * @param dtype       the element type
     * @param owner       closed once, by the tensor's first {@link #close()}
     * @param shape       the sizes, each {@code >= 0}
     * @return the tensor
     */
    public static Tensor owned(@Nullable MemorySegment hostSegment, long address, int device, DType dtype,
            AutoCloseable owner, long... shape) {
        return new Tensor(dtype, shape, hostSegment, address, device, owner);
    }

    /**
     * Zero-filled host memory managed by the garbage collector (see the class comment).
     *
     * @param dtype the element type
     * @param shape the sizes, each {@code >= 0}
     * @return the tensor
     * @throws AllocationException when the memory cannot be had
     */
    public static Tensor allocateHost(DType dtype, long... shape) {
        return allocateHost(Arena.ofAuto(), dtype, shape);
    }

    /**
     * Zero-filled host memory of {@code arena}, freed when the arena closes; closing the tensor
     * only ends its use.
     *
     * @param arena the owner of the memory
     * @param dtype the element type
     * @param shape the sizes, each {@code >= 0}
     * @return the tensor
     * @throws AllocationException when the memory cannot be had
     */
    public static Tensor allocateHost(Arena arena, DType dtype, long... shape) {
        long bytes = HostMemory.byteSize(dtype, shape);
        MemorySegment seg = HostMemory.allocate(arena, bytes, "a host tensor " + dtype + Arrays.toString(shape));
        return new Tensor(dtype, shape, seg, seg.address(), HOST, null);
    }

    /**
     * int64 values, copied into GC-managed host memory.
     *
     * @param values the values, row-major
     * @param shape  the sizes; their product must be {@code values.length}
     * @return the tensor
     * @throws InvalidArgumentException when the count does not match the shape
     */
    public static Tensor ofLongs(long[] values, long... shape) {
        Tensor t = allocateHost(DType.INT64, checkCount(values.length, shape));
        MemorySegment.copy(values, 0, t.hostSegment(), LONG, 0, values.length);
        return t;
    }

    /**
     * int32 values, copied into GC-managed host memory.
     *
     * @param values the values, row-major
     * @param shape  the sizes; their product must be {@code values.length}
     * @return the tensor
     * @throws InvalidArgumentException when the count does not match the shape
     */
    public static Tensor ofInts(int[] values, long... shape) {
        Tensor t = allocateHost(DType.INT32, checkCount(values.length, shape));
        MemorySegment.copy(values, 0, t.hostSegment(), INT, 0, values.length);
        return t;
    }

    /**
     * float32 values, copied into GC-managed host memory.
     *
     * @param values the values, row-major
     * @param shape  the sizes; their product must be {@code values.length}
     * @return the tensor
     * @throws InvalidArgumentException when the count does not match the shape
     */
    public static Tensor ofFloats(float[] values, long... shape) {
        Tensor t = allocateHost(DType.FLOAT32, checkCount(values.length, shape));
        MemorySegment.copy(values, 0, t.hostSegment(), FLOAT, 0, values.length);
        return t;
    }

    /**
     * A bf16 tensor from float32 values, each rounded to the nearest bf16 (ties to even; NaN
     * becomes the canonical NaN), as {@link BFloat16#fromFloat(float)} does; in GC-managed host
     * memory.
     *
     * @param values the values, row-major
     * @param shape  the sizes; their product must be {@code values.length}
     * @return the tensor
     * @throws InvalidArgumentException when the count does not match the shape
     */
    public static Tensor ofBf16(float[] values, long... shape) {
        Tensor t = allocateHost(DType.BF16, checkCount(values.length, shape));
        MemorySegment seg = t.hostSegment();
        for (int i = 0; i < values.length; i++) {
            seg.setAtIndex(SHORT, i, BFloat16.fromFloat(values[i]));
        }
        return t;
    }

    /**
     * bf16 values from raw bit patterns (the upper halves of float32), copied into GC-managed
     * host memory.
     *
     * @param bits  the bf16 bit patterns, row-major
     * @param shape the sizes; their product must be {@code bits.length}
     * @return the tensor
     * @throws InvalidArgumentException when the count does not match the shape
     */
    public static Tensor ofBf16Bits(short[] bits, long... shape) {
        Tensor t = allocateHost(DType.BF16, checkCount(bits.length, shape));
        MemorySegment.copy(bits, 0, t.hostSegment(), SHORT, 0, bits.length);
        return t;
    }

    /**
     * Raw bytes of any type (fp8 codes, uint8 flags, ...), copied into GC-managed host memory.
     *
     * @param values the bytes, little-endian elements, row-major
     * @param dtype  the element type
     * @param shape  the sizes; the tensor's byte size must be {@code values.length}
     * @return the tensor
     * @throws InvalidArgumentException when the byte count does not match
     */
    public static Tensor ofBytes(byte[] values, DType dtype, long... shape) {
        long bytes = HostMemory.byteSize(dtype, shape);
        if (values.length != bytes) {
            throw new InvalidArgumentException("values.length", values.length,
                    bytes + " bytes for " + dtype + Arrays.toString(shape));
        }
        Tensor t = allocateHost(dtype, shape);
        MemorySegment.copy(values, 0, t.hostSegment(), ValueLayout.JAVA_BYTE, 0, values.length);
        return t;
    }

    private static long[] checkCount(int count, long[] shape) {
        long numel = numelOf(shape);
        if (count != numel) {
            throw new InvalidArgumentException("values.length", count, numel + " values for shape " + Arrays.toString(shape));
        }
        return shape;
    }

    private static long numelOf(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n = Math.multiplyExact(n, Math.max(s, 0));
        }
        return n;
    }

    private MemorySegment hostSegment() {
        assert segment != null;
        return segment;
    }

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The sizes of every axis, in elements.
     *
     * @return a copy of the shape
     */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * The number of axes.
     *
     * @return the rank (0 for a scalar)
     */
    public int rank() {
        return shape.length;
    }

    /**
     * The size of one axis.
     *
     * @param axis 0 to {@code rank() - 1}
     * @return the size, in elements
     * @throws ArrayIndexOutOfBoundsException when the axis does not exist
     */
    public long dim(int axis) {
        return shape[axis];
    }

    /**
     * The number of elements.
     *
     * @return the product of the sizes
     */
    public long numel() {
        return numel;
    }

    /**
     * The size of the data.
     *
     * @return bytes
     */
    public long byteSize() {
        return numel * dtype.byteSize();
    }

    /**
     * Bytes of one slice along the first axis (a row of a 2-D tensor).
     *
     * @return bytes; 0 for a scalar or an empty first axis
     */
    public long rowBytes() {
        return shape.length == 0 || shape[0] == 0 ? 0 : byteSize() / shape[0];
    }

    /**
     * Whether the data is in host memory.
     *
     * @return true for host memory
     */
    public boolean isHost() {
        return device == HOST;
    }

    /**
     * Where the data is.
     *
     * @return {@link #HOST} for host memory, else the GPU index
     */
    public int device() {
        return device;
    }

    /**
     * The native address of the data.
     *
     * @return a host address, or the device pointer
     * @throws IllegalStateException when the tensor was closed
     */
    public long address() {
        checkOpen();
        return address;
    }

    /**
     * The host memory of this tensor, of exactly {@link #byteSize()} bytes.
     *
     * @return the segment
     * @throws IllegalStateException when the tensor was closed or lives on a GPU
     */
    public MemorySegment segment() {
        checkOpen();
        if (segment == null) {
            throw new IllegalStateException("tensor " + this + " lives on GPU " + device + ", not in host memory");
        }
        return segment;
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed.get();
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("tensor " + dtype + Arrays.toString(shape) + " was closed");
        }
        if (region != null && !region.holds(generation)) {
            throw new IllegalStateException("tensor " + this + " is a view of the " + region.region()
                    + ", which a later call has refilled (the view holds call " + generation + "'s rows, the region now "
                    + "holds call " + region.current() + "'s); keep() the result to read it past that call");
        }
    }

    /**
     * Whether this tensor is a view of memory a later call may refill ({@link ep4j.spi.Results#recycledView}).
     *
     * @return true for such a view, readable or not
     */
    public boolean isRecycledView() {
        return region != null;
    }

    /** A view of a backend's fixed memory, valid while {@code region} holds {@code generation}. */
    static Tensor recycled(@Nullable MemorySegment hostSegment, long address, int device, DType dtype, Generation region,
            long generation, long... shape) {
        return new Tensor(dtype, shape, hostSegment, address, device, null, region, generation);
    }

    /**
     * A copy of an int64 host tensor's values.
     *
     * @return the values, row-major
     * @throws InvalidArgumentException when the dtype is not int64
     * @throws IllegalStateException    when the tensor was closed or lives on a GPU
     */
    public long[] toLongArray() {
        expect(DType.INT64);
        return segment().toArray(ValueLayout.JAVA_LONG);
    }

    /**
     * A copy of an int32 host tensor's values.
     *
     * @return the values, row-major
     * @throws InvalidArgumentException when the dtype is not int32
     * @throws IllegalStateException    when the tensor was closed or lives on a GPU
     */
    public int[] toIntArray() {
        expect(DType.INT32);
        return segment().toArray(ValueLayout.JAVA_INT);
    }

    /**
     * A copy of a float32 host tensor's values, or of a bf16 one's widened exactly to float32.
     *
     * @return the values, row-major
     * @throws InvalidArgumentException when the dtype is neither float32 nor bf16
     * @throws IllegalStateException    when the tensor was closed or lives on a GPU
     */
    public float[] toFloatArray() {
        if (dtype == DType.BF16) {
            short[] bits = segment().toArray(ValueLayout.JAVA_SHORT);
            float[] out = new float[bits.length];
            for (int i = 0; i < bits.length; i++) {
                out[i] = BFloat16.toFloat(bits[i]);
            }
            return out;
        }
        expect(DType.FLOAT32);
        return segment().toArray(ValueLayout.JAVA_FLOAT);
    }

    /**
     * A copy of a 2-byte host tensor's raw values (bf16 bit patterns).
     *
     * @return the values, row-major
     * @throws InvalidArgumentException when the element size is not 2 bytes
     * @throws IllegalStateException    when the tensor was closed or lives on a GPU
     */
    public short[] toShortArray() {
        if (dtype.byteSize() != 2) {
            throw new InvalidArgumentException("tensor.dtype", dtype, "a 2-byte type");
        }
        return segment().toArray(ValueLayout.JAVA_SHORT);
    }

    /**
     * A copy of a host tensor's bytes.
     *
     * @return the bytes
     * @throws IllegalStateException when the tensor was closed or lives on a GPU
     */
    public byte[] toByteArray() {
        return segment().toArray(ValueLayout.JAVA_BYTE);
    }

    private DType expect(DType wanted) {
        if (dtype != wanted) {
            throw new InvalidArgumentException("tensor.dtype", dtype, wanted.name());
        }
        return dtype;
    }

    /**
     * Ends this tensor's use and frees its memory if the tensor owns it (see the class comment);
     * twice is harmless.
     *
     * @throws EpException when freeing owned memory failed
     */
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

    /**
     * The dtype, shape and place, e.g. {@code BF16[4, 7168]@cuda:0}.
     *
     * @return a short description
     */
    @Override
    public String toString() {
        return dtype + Arrays.toString(shape) + (device == HOST ? "@host" : "@cuda:" + device);
    }
}
