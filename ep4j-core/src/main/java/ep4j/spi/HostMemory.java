package ep4j.spi;

import ep4j.AllocationException;
import ep4j.DType;
import ep4j.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Host memory for backends, with a failed allocation reported as an {@link AllocationException}
 * that names what was being allocated (the JDK's {@link OutOfMemoryError} names only a size).
 */
public final class HostMemory {
    /** Alignment of every allocation, in bytes (a cache line; enough for any vector load). */
    public static final long ALIGNMENT = 64;

    private HostMemory() {
    }

    /**
     * Zero-filled memory of {@code arena}, freed when the arena is closed (or, for an automatic
     * arena, collected).
     *
     * @param arena the owner of the memory
     * @param bytes the size, in bytes (0 is allowed)
     * @param what  what the memory is for, for the error message
     * @return a segment of exactly {@code bytes} bytes, {@link #ALIGNMENT}-aligned
     * @throws AllocationException when the memory cannot be had
     */
    public static MemorySegment allocate(Arena arena, long bytes, String what) {
        try {
            return arena.allocate(Math.max(bytes, 1), ALIGNMENT).asSlice(0, bytes);
        } catch (OutOfMemoryError e) {
            throw new AllocationException(what, bytes, Tensor.HOST, e);
        }
    }

    /**
     * A zero-filled host tensor that owns its memory: closing the tensor frees it at once. What
     * {@code EpGroup.allocate}, {@code upload} and {@code download} return for host memory.
     *
     * @param dtype the element type
     * @param shape the sizes, each {@code >= 0}
     * @return the tensor
     * @throws AllocationException when the memory cannot be had
     */
    public static Tensor tensor(DType dtype, long... shape) {
        long bytes = byteSize(dtype, shape);
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg = allocate(arena, bytes, "a host tensor " + dtype + Arrays.toString(shape));
            return Tensor.owned(seg, seg.address(), Tensor.HOST, dtype, arena, shape);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The bytes of a dense tensor.
     *
     * @param dtype the element type
     * @param shape the sizes
     * @return the product of the sizes times the element size
     * @throws ep4j.InvalidArgumentException when a size is negative or the product overflows a long
     */
    public static long byteSize(DType dtype, long... shape) {
        long n = dtype.byteSize();
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw new ep4j.InvalidArgumentException("shape[" + i + "]", shape[i], "a size >= 0");
            }
            try {
                n = Math.multiplyExact(n, shape[i]);
            } catch (ArithmeticException e) {
                throw new ep4j.InvalidArgumentException("shape", Arrays.toString(shape),
                        "at most " + Long.MAX_VALUE + " bytes of " + dtype);
            }
        }
        return n;
    }
}
