package ep4j.cuda.kernel;

import java.util.Map;

/**
 * The constants of the kernel contract (contract.cuh: EP4J_CONSTANTS), checked value for value
 * against the table the build prints ({@link Contract}).
 */
public final class KernelConstants {
    /** Ranks of an intranode group: the length of every peer-pointer array. */
    public static final int MAX_RANKS = 8;
    /** Experts of a normal dispatch (the count exchange's mailbox rows). */
    public static final int MAX_EXPERTS = 4096;
    /** Experts of a low-latency call (shared-memory histograms). */
    public static final int LL_MAX_EXPERTS = 4096;
    /** Low-latency {@code maxTokensPerRank} must stay below {@code 2^LL_TOKEN_BITS} on the GPU. */
    public static final int LL_TOKEN_BITS = 21;
    /** Top-k slots per token any kernel accepts. */
    public static final int MAX_TOPK = 1024;
    /** u64 words per signal kind in the control block (one 128-byte line). */
    public static final int SIGNAL_LINE = 16;
    /** Call records in a rank's host-mapped ring. */
    public static final int CALL_RECORDS = 1024;
    /** Bytes between two call records. */
    public static final int CALL_RECORD_BYTES = 64;
    /** The control block at the start of every symmetric heap. */
    public static final int CONTROL_BYTES = 4096;
    public static final int LAYOUT_THREADS = 256;
    /** Blocks of the layout kernel at most (partial histograms, summed by the last one). */
    public static final int LAYOUT_MAX_BLOCKS = 64;
    public static final int NOTIFY_THREADS = 1024;
    public static final int DISPATCH_THREADS = 512;
    public static final int COMBINE_THREADS = 1024;
    public static final int COPY_THREADS = 512;
    public static final int LL_THREADS = 512;
    public static final int LL_TRACE_POINTS = 16;
    public static final int BULK_DISPATCH_MAX_WARPS = 16;
    public static final int BULK_DISPATCH_MAX_STAGES = 8;

    /** Every constant above by its C name: what {@link Contract#verify} compares. */
    static final Map<String, Integer> BY_C_NAME = Map.ofEntries(
            Map.entry("kMaxRanks", MAX_RANKS),
            Map.entry("kMaxExperts", MAX_EXPERTS),
            Map.entry("kLlMaxExperts", LL_MAX_EXPERTS),
            Map.entry("kLlTokenBits", LL_TOKEN_BITS),
            Map.entry("kMaxTopk", MAX_TOPK),
            Map.entry("kSignalLine", SIGNAL_LINE),
            Map.entry("kCallRecords", CALL_RECORDS),
            Map.entry("kCallRecordBytes", CALL_RECORD_BYTES),
            Map.entry("kControlBytes", CONTROL_BYTES),
            Map.entry("kLayoutThreads", LAYOUT_THREADS),
            Map.entry("kLayoutMaxBlocks", LAYOUT_MAX_BLOCKS),
            Map.entry("kNotifyThreads", NOTIFY_THREADS),
            Map.entry("kDispatchThreads", DISPATCH_THREADS),
            Map.entry("kCombineThreads", COMBINE_THREADS),
            Map.entry("kCopyThreads", COPY_THREADS),
            Map.entry("kLlThreads", LL_THREADS),
            Map.entry("kLlTracePoints", LL_TRACE_POINTS),
            Map.entry("kBulkDispatchMaxWarps", BULK_DISPATCH_MAX_WARPS),
            Map.entry("kBulkDispatchMaxStages", BULK_DISPATCH_MAX_STAGES));

    private KernelConstants() {
    }
}
