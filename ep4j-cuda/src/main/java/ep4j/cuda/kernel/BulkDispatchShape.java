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
    /** Slots (x row and scale row, each rounded to 128 bytes) up to this size are "small rows". */
    static final int SMALL_ROW = 8 * 1024;
    /**
     * Warps per block for small rows and for large ones. A warp walks its tokens one after
     * another, each token's rows stored by bulk copies from its ring, so at few warps a block is
     * bound by that walk (about 1.5 us per token and warp on H200, whatever the row size), and
     * at many by the link. Measured on nvidia-h200-x2, 16 SMs, 4096 tokens of hidden 7168,
     * pipelined (session 11; warps x slots):
     * <ul>
     *   <li>bf16 rows (14 KiB): 2 x 7 199.0-199.4 us, 4 x 3 207.8-209.6 (8 warps fit no two slots);
     *   <li>fp8 rows (7.25 KiB with scales): 2 x 8 203-204 us, 4 x 6 115.3-115.6, 8 x 3
     *       113.4-114.1, 12 x 2 117.9-118.0.
     * </ul>
     */
    static final int SMALL_ROW_WARPS = 8;
    static final int LARGE_ROW_WARPS = 2;
    /**
     * Tokens a warp may walk before its block takes more warps: at about 1.5 us per token, 128
     * tokens take as long as the link needs for a 16-SM block's share of 4096 bf16 rows. Past
     * that share large rows get more warps (bf16, 4096 tokens on 8 SMs, synchronous calls in the
     * SM sweep: 380 us with 2 warps, 339 with 4).
     */
    static final int TOKENS_PER_WARP = 128;

    public int threads() {
        return warps * 32;
    }

    /**
     * The shape for {@code tokens} x rows of {@code rowBytes} with scale rows of
     * {@code scaleBytes} (0 without scales) on {@code blocks} blocks, or null when two slots per
     * warp do not fit: the warps for the row's size, doubled (up to those of small rows) while a
     * warp would walk more than {@link #TOKENS_PER_WARP} tokens, then halved until two slots each
     * fit, each warp with as many slots as the budget allows. Scale rows travel in the slot when
     * they are whole 16-byte pieces; otherwise the lanes copy them.
     */
    public static BulkDispatchShape forRow(int rowBytes, int scaleBytes, int tokens, int blocks) {
        long stride = align(Math.max(rowBytes, 16)) + (scaleBytes > 0 && scaleBytes % 16 == 0 ? align(scaleBytes) : 0);
        long perBlock = (Math.max(tokens, 0) + (long) Math.max(blocks, 1) - 1) / Math.max(blocks, 1);
        int preferred = stride <= SMALL_ROW ? SMALL_ROW_WARPS : LARGE_ROW_WARPS;
        while (preferred < SMALL_ROW_WARPS && perBlock > (long) preferred * TOKENS_PER_WARP) {
            preferred *= 2;
        }
        for (int warps = preferred; warps >= 1; warps /= 2) {
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
