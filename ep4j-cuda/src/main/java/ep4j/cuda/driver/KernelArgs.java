package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Kernel parameters packed for {@code cuLaunchKernel}: a block of values plus the {@code void**}
 * array pointing at each one. Both are allocated once; {@link #reset()} and the appenders only
 * write numbers, so building and launching allocates nothing.
 *
 * <pre>{@code
 * args.reset().ptr(x.address()).ptr(y.address()).i32(n);
 * kernel.launch(blocks, 1, 256, 0, stream, args);
 * }</pre>
 *
 * <p>Not thread-safe: give each thread (or each backend object used by one thread at a time) its
 * own. The driver copies the values at launch (and at graph capture), so the object may be reset
 * as soon as {@code launch} returns.
 */
public final class KernelArgs implements AutoCloseable {
    /** More parameters than any kernel here needs, and the most {@link #KernelArgs(int, int)} takes. */
    public static final int MAX_PARAMETERS = 1024;
    public static final int DEFAULT_MAX_ARGS = 64;
    /** CUDA's classic limit for a launch's parameters; Volta and newer take up to 32764 bytes. */
    public static final int DEFAULT_MAX_BYTES = 4096;

    private static final long SLOT_ALIGN = 8;

    private final Arena arena;
    private final MemorySegment values;
    private final MemorySegment pointers;
    private final long valuesAddress;
    private final int maxArgs;
    private final long[] sizes;
    private int count;
    private long used;
    private boolean closed;

    public KernelArgs() {
        this(DEFAULT_MAX_ARGS, DEFAULT_MAX_BYTES);
    }

    public KernelArgs(int maxArgs, int maxBytes) {
        if (maxArgs <= 0 || maxArgs > MAX_PARAMETERS) {
            throw new InvalidArgumentException("maxArgs", maxArgs, "1 to " + MAX_PARAMETERS);
        }
        if (maxBytes <= 0 || maxBytes > 32764) {
            throw new InvalidArgumentException("maxBytes", maxBytes, "1 to 32764 (CUDA's parameter limit)");
        }
        this.arena = Arena.ofShared(); // shared: an owner may hand it from thread to thread
        this.values = arena.allocate(maxBytes, 16);
        this.pointers = arena.allocate(8L * maxArgs, 8);
        this.valuesAddress = values.address();
        this.maxArgs = maxArgs;
        this.sizes = new long[maxArgs];
        // Every entry points at valid memory, so a kernel given too few arguments reads junk, not a null pointer.
        for (int i = 0; i < maxArgs; i++) {
            pointers.setAtIndex(JAVA_LONG, i, valuesAddress);
        }
    }

    /** Forgets the arguments so far; returns this. */
    public KernelArgs reset() {
        ensureOpen();
        count = 0;
        used = 0;
        return this;
    }

    /** A device pointer ({@code T*}). */
    public KernelArgs ptr(long devicePointer) {
        values.set(JAVA_LONG, slot(8, SLOT_ALIGN), devicePointer);
        return this;
    }

    public KernelArgs ptr(DeviceMemory memory) {
        return ptr(memory.address());
    }

    public KernelArgs i8(byte value) {
        values.set(JAVA_BYTE, slot(1, SLOT_ALIGN), value);
        return this;
    }

    /** A C++ {@code bool}. */
    public KernelArgs bool(boolean value) {
        return i8(value ? (byte) 1 : (byte) 0);
    }

    public KernelArgs i16(short value) {
        values.set(JAVA_SHORT, slot(2, SLOT_ALIGN), value);
        return this;
    }

    /** {@code int} or {@code unsigned int}. */
    public KernelArgs i32(int value) {
        values.set(JAVA_INT, slot(4, SLOT_ALIGN), value);
        return this;
    }

    /** {@code int64_t}, {@code uint64_t} or {@code size_t}. */
    public KernelArgs i64(long value) {
        values.set(JAVA_LONG, slot(8, SLOT_ALIGN), value);
        return this;
    }

    public KernelArgs f32(float value) {
        values.set(JAVA_FLOAT, slot(4, SLOT_ALIGN), value);
        return this;
    }

    public KernelArgs f64(double value) {
        values.set(JAVA_DOUBLE, slot(8, SLOT_ALIGN), value);
        return this;
    }

    /** A struct passed by value (e.g. an array of peer pointers), copied from {@code value}. */
    public KernelArgs struct(MemorySegment value, long alignment) {
        if (alignment <= 0 || Long.bitCount(alignment) != 1 || alignment > 16) {
            throw new InvalidArgumentException("alignment", alignment, "a power of two up to 16");
        }
        long size = value.byteSize();
        if (size <= 0) {
            throw new InvalidArgumentException("value", value, "a non-empty struct");
        }
        MemorySegment.copy(value, 0, values, slot(size, Math.max(alignment, SLOT_ALIGN)), size);
        return this;
    }

    /** Number of arguments added since the last reset. */
    public int count() {
        return count;
    }

    /** The {@code void** kernelParams} array: entry i points at argument i's value. */
    public MemorySegment kernelParams() {
        ensureOpen();
        return pointers;
    }

    /** Byte size of argument i. */
    public long size(int index) {
        if (index < 0 || index >= count) {
            throw new IndexOutOfBoundsException("argument " + index + " of " + count);
        }
        return sizes[index];
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    void checkAgainst(long[] parameterSizes, String kernel) {
        if (count != parameterSizes.length) {
            throw new InvalidArgumentException("arguments of kernel " + kernel, count + " arguments",
                    parameterSizes.length + " (the kernel's parameter count)");
        }
        for (int i = 0; i < count; i++) {
            if (sizes[i] != parameterSizes[i]) {
                throw new InvalidArgumentException("argument " + i + " of kernel " + kernel,
                        sizes[i] + " bytes", parameterSizes[i] + " bytes (the parameter's size)");
            }
        }
    }

    private long slot(long size, long align) {
        ensureOpen();
        if (count == maxArgs) {
            throw new IllegalStateException("KernelArgs holds at most " + maxArgs + " arguments");
        }
        long offset = (used + align - 1) & -align;
        if (offset + size > values.byteSize()) {
            throw new IllegalStateException("KernelArgs holds at most " + values.byteSize()
                    + " bytes of arguments; argument " + count + " needs " + size + " more at offset " + offset);
        }
        pointers.setAtIndex(JAVA_LONG, count, valuesAddress + offset);
        sizes[count++] = size;
        used = offset + size;
        return offset;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("KernelArgs is closed");
        }
    }
}
