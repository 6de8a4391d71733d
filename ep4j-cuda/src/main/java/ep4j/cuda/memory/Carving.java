package ep4j.cuda.memory;

import ep4j.DType;
import ep4j.Tensor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One stream-ordered block cut into several tensors that share it: the block goes back to the
 * pool when the last of them is closed. One allocation per call instead of one per output keeps
 * the host cost of a call down (each cuMemAllocAsync is a driver call).
 *
 * <pre>{@code
 * Carving c = Carving.of(runtime::allocate, device, 4L * r, 4L * e, (long) t * r);
 * Tensor perRank = c.tensor(0, DType.INT32, r);
 * ...
 * }</pre>
 *
 * <p>Every part must be turned into a tensor (or {@link #release} called for it), or the block
 * is never freed.
 */
public final class Carving {
    private static final long ALIGN = 256;

    private final DeviceBlock block;
    private final long[] offsets;
    private final int device;
    private final AtomicInteger open;

    private Carving(DeviceBlock block, long[] offsets, int device) {
        this.block = block;
        this.offsets = offsets;
        this.device = device;
        this.open = new AtomicInteger(offsets.length);
    }

    /** Where a carving's block comes from: {@code bytes} (> 0) of device memory. */
    @FunctionalInterface
    public interface Allocator {
        DeviceBlock allocate(long bytes);
    }

    /** A block holding parts of the given byte sizes, each 256-byte aligned. */
    public static Carving of(Allocator allocator, int device, long... sizes) {
        long[] offsets = new long[sizes.length];
        long at = 0;
        for (int i = 0; i < sizes.length; i++) {
            offsets[i] = at;
            at += Math.max(ALIGN, (sizes[i] + ALIGN - 1) / ALIGN * ALIGN);
        }
        return new Carving(allocator.allocate(at), offsets, device);
    }

    /** The address of part {@code i}. */
    public long address(int i) {
        return block.address() + offsets[i];
    }

    /** Part {@code i} as a tensor; closing it releases the part. */
    public Tensor tensor(int i, DType dtype, long... shape) {
        return Tensor.owned(null, address(i), device, dtype, this::release, shape);
    }

    /** Releases one part without a tensor (a part the call did not hand out). */
    public void release() {
        if (open.decrementAndGet() == 0) {
            block.close();
        }
    }
}
