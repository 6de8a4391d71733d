package ep4j.cuda;

import ep4j.InvalidArgumentException;

/**
 * Byte layout of the low-latency memory of one rank (the same on every rank, so offsets work in
 * any peer's region). The peer-visible region holds signals, then per slot (two): data rows
 * {@code [R][N]} of {@code 2H} bytes, token lists {@code [L][R][N]} int32, counts {@code [L][R]}
 * int32 and combine rows {@code [N][Kmax]} of {@code 2H} bytes. The local memory holds per slot
 * the packed outputs and the handle: x {@code [L][R*N]} rows of up to {@code 2H} bytes, scales,
 * recvCount, sourceToken, ranges, the first topk slot of every row, and the dispatch's topk.
 */
final class LowLatencyLayout {
    /** Signal kinds (u64 words, [kind][slot][source rank]). */
    static final int DSIG = 0;
    static final int DFREE = 1;
    static final int CSIG = 2;
    static final int CFREE = 3;
    static final int KINDS = 4;
    /** Ranks a signal array has room for. */
    static final int MAX_RANKS = ep4j.cuda.kernel.KernelConstants.MAX_RANKS;
    /**
     * Bytes of the signal words: at the start of the region, and the whole of each rank's
     * host-mapped mirror block, which uses the same offsets ({@link #signal}).
     */
    static final long SIGNAL_BYTES = 8L * KINDS * 2 * MAX_RANKS;
    static final long COUNTER = SIGNAL_BYTES;
    private static final long HEADER = 1024;
    private static final long ALIGN = 256;

    final int ranks;
    final int maxTokens;
    final int experts;
    final int local;
    final int hidden;
    final int maxTopk;
    final int capacity;
    final int rowStride;

    private final long dataBytes;
    private final long listBytes;
    private final long countBytes;
    private final long cregBytes;
    private final long slotBytes;
    private final long regionBytes;

    private final long xBytes;
    private final long scaleBytes;
    private final long countOutBytes;
    private final long tokenBytes;
    private final long rangeBytes;
    private final long topkBytes;
    private final long localSlotBytes;

    LowLatencyLayout(int ranks, int maxTokens, int experts, int hidden, int maxTopk) {
        if (maxTokens <= 0 || maxTokens >= (1 << 21)) {
            throw new InvalidArgumentException("lowLatency.maxTokensPerRank", maxTokens, "1 to 2^21 - 1 on the GPU");
        }
        if (experts % ranks != 0) {
            throw new InvalidArgumentException("lowLatency.numExperts", experts, "a multiple of the ranks (" + ranks + ")");
        }
        if (maxTopk > 1024) {
            throw new InvalidArgumentException("maxTopk", maxTopk, "at most 1024 on the GPU");
        }
        this.ranks = ranks;
        this.maxTokens = maxTokens;
        this.experts = experts;
        this.local = experts / ranks;
        this.hidden = hidden;
        this.maxTopk = maxTopk;
        this.capacity = ranks * maxTokens;
        this.rowStride = 2 * hidden;
        dataBytes = align((long) ranks * maxTokens * rowStride);
        listBytes = align(4L * local * ranks * maxTokens);
        countBytes = align(4L * local * ranks);
        cregBytes = align((long) maxTokens * maxTopk * rowStride);
        slotBytes = dataBytes + listBytes + countBytes + cregBytes;
        regionBytes = HEADER + 2 * slotBytes;

        long rows = (long) local * capacity;
        xBytes = align(rows * 2 * hidden);
        scaleBytes = align(rows * 4L * Math.max(1, hidden / 128));
        countOutBytes = align(4L * local);
        tokenBytes = align(4L * rows);
        rangeBytes = align(8L * local * ranks);
        topkBytes = align(4L * maxTokens * maxTopk);
        localSlotBytes = xBytes + scaleBytes + countOutBytes + 2 * tokenBytes + rangeBytes + topkBytes;
    }

    private static long align(long v) {
        return Math.max(ALIGN, (v + ALIGN - 1) / ALIGN * ALIGN);
    }

    /** Byte offset of the words [kind][slot][0..MAX_RANKS) in the region and in the host mirror. */
    static long signal(int kind, int slot) {
        return 8L * (kind * 2 + slot) * MAX_RANKS;
    }

    /** Byte offset of source rank {@code rank}'s word of [kind][slot]. */
    static long signal(int kind, int slot, int rank) {
        return signal(kind, slot) + 8L * rank;
    }

    long regionBytes() {
        return regionBytes;
    }

    long localBytes() {
        return 2 * localSlotBytes;
    }

    long combineInputBytes() {
        return (long) local * capacity * 2 * hidden;
    }

    // Region offsets (bytes from a region's base).
    long data(int s) {
        return HEADER + s * slotBytes;
    }

    long list(int s) {
        return data(s) + dataBytes;
    }

    long count(int s) {
        return list(s) + listBytes;
    }

    long combineRows(int s) {
        return count(s) + countBytes;
    }

    // Local addresses.
    long recvX(long base, int s) {
        return base + s * localSlotBytes;
    }

    long recvScales(long base, int s) {
        return recvX(base, s) + xBytes;
    }

    long recvCount(long base, int s) {
        return recvScales(base, s) + scaleBytes;
    }

    long sourceToken(long base, int s) {
        return recvCount(base, s) + countOutBytes;
    }

    long firstK(long base, int s) {
        return sourceToken(base, s) + tokenBytes;
    }

    long ranges(long base, int s) {
        return firstK(base, s) + tokenBytes;
    }

    long dispatchTopk(long base, int s) {
        return ranges(base, s) + rangeBytes;
    }
}
