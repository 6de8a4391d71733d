package ep4j.cuda.kernel;

/**
 * Block shape of {@code ep4j_dispatch_bulk}: warps per block and row slots per warp, each slot
 * one x row rounded up to 128 bytes, all in dynamic shared memory.
 *
 * @param warps warps per block
 * @param stages row slots in each warp's ring (at least two: one loading while one is sent)
 * @param sharedBytes dynamic shared memory per block
 */
public record BulkDispatchShape(int warps, int stages, int sharedBytes) {
    /** Dynamic shared memory the kernel may use per block; H100/H200 allow 227 KiB. */
    public static final int SHARED_BUDGET = 200 * 1024;
    /** Compile-time limits of dispatch.cuh (kBulkDispatchMaxWarps, kBulkDispatchMaxStages). */
    public static final int MAX_WARPS = 16;
    public static final int MAX_STAGES = 8;
    /**
     * Four warps: enough lanes for the rows' metadata while the copy engine moves the rows
     * (measured on two H200 at 16 SMs, FP8 rows: 121-125 us with 4 warps, 150 with 8, 197-200 with 2).
     */
    static final int PREFERRED_WARPS = 4;

    public int threads() {
        return warps * 32;
    }

    /**
     * The shape for x rows of {@code rowBytes} with scale rows of {@code scaleBytes} (0 without
     * scales), or null when two slots per warp do not fit. Scale rows travel in the slot when they
     * are whole 16-byte pieces; otherwise the lanes copy them.
     */
    public static BulkDispatchShape forRow(int rowBytes, int scaleBytes) {
        long stride = align(Math.max(rowBytes, 16)) + (scaleBytes > 0 && scaleBytes % 16 == 0 ? align(scaleBytes) : 0);
        for (int warps = PREFERRED_WARPS; warps >= 1; warps /= 2) {
            long stages = Math.min(MAX_STAGES, SHARED_BUDGET / (warps * stride));
            if (stages >= 2) {
                return new BulkDispatchShape(warps, (int) stages, (int) (warps * stages * stride));
            }
        }
        return null;
    }

    private static long align(long bytes) {
        return (bytes + 127) & ~127L;
    }
}
