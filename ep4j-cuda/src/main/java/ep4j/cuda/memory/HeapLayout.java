package ep4j.cuda.memory;

import ep4j.BufferSpec;
import ep4j.InvalidArgumentException;
import ep4j.cuda.kernel.KernelConstants;

/**
 * Where everything lives in a rank's symmetric heap (the same offsets on every rank, so a kernel
 * finds a peer's part at {@code heap[peer] + offset}), and in the rank's local memory, which no
 * peer touches. Sized once from the {@link BufferSpec}, for the worst case, when the buffers are
 * created (DESIGN 3: symmetric memory, fixed at creation).
 *
 * <p>The heap holds, in order: the control block (contract.cuh: Control), the count exchange's
 * mailbox, two normal-dispatch receive slots (consecutive dispatches alternate, so the outputs
 * of the last two stay readable), the combine staging area (expert outputs that do not already
 * lie in the heap are copied there for the peers to read), and two low-latency slots.
 */
public final class HeapLayout {
    private static final long ALIGN = 256;

    /** One normal receive slot: rows of every source, in DESIGN 2.2's order. */
    public record NormalSlot(long x, long scales, long topkIdx, long topkWeights, long sourceToken) {
    }

    /** One low-latency slot of the heap (ll_common.cuh). */
    public record LlSlot(long data, long headers, long count, long combineRows) {
    }

    /** One low-latency slot's packed outputs and handle, in local memory. */
    public record LlLocal(long recvX, long recvScales, long recvCount, long sourceToken, long firstK, long ranges,
            long dispatchTopk) {
    }

    public final int ranks;
    /** Rows one normal receive slot holds: every rank's largest batch, from every rank. */
    public final long capacity;
    public final int hidden;
    public final int maxTopk;
    public final long mailbox;
    private final NormalSlot[] normal = new NormalSlot[2];
    public final long stageX;
    public final long stageWeights;
    /** Low-latency shape, all 0 without low latency. */
    public final int llMaxTokens;
    public final int llExperts;
    public final int llLocalExperts;
    public final long llCapacity;
    private final LlSlot[] ll = new LlSlot[2];
    public final long heapBytes;

    public final long layoutPartials;
    private final LlLocal[] llLocal = new LlLocal[2];
    public final long localBytes;

    private long at;

    private long take(long bytes) {
        long offset = at;
        at = Math.addExact(at, align(bytes));
        return offset;
    }

    private static long align(long v) {
        return Math.max(ALIGN, (v + ALIGN - 1) / ALIGN * ALIGN);
    }

    public HeapLayout(int ranks, BufferSpec spec) {
        this.ranks = ranks;
        this.hidden = spec.hidden();
        this.maxTopk = spec.maxTopk();
        this.capacity = Math.max(1, (long) ranks * spec.maxTokensPerRank());
        try {
            take(KernelConstants.CONTROL_BYTES);
            // exchange.cuh: [source][row] words of 8 bytes, each a count and its call's number
            mailbox = take(KernelConstants.MAX_RANKS * (KernelConstants.MAX_RANKS + KernelConstants.MAX_EXPERTS) * 8L);
            for (int s = 0; s < 2; s++) {
                normal[s] = new NormalSlot(take(capacity * 2L * hidden), take(capacity * 4L * Math.max(1, hidden / 128)),
                        take(capacity * 8L * maxTopk), take(capacity * 4L * maxTopk), take(capacity * 4L));
            }
            stageX = take(capacity * 2L * hidden);
            stageWeights = take(capacity * 4L * maxTopk);
            if (spec.hasLowLatency()) {
                llMaxTokens = spec.lowLatencyMaxTokensPerRank();
                llExperts = spec.lowLatencyExperts();
                if (llMaxTokens >= (1 << KernelConstants.LL_TOKEN_BITS)) {
                    throw new InvalidArgumentException("lowLatency.maxTokensPerRank", llMaxTokens,
                            "below 2^" + KernelConstants.LL_TOKEN_BITS + " on the GPU");
                }
                if (llExperts % ranks != 0) {
                    throw new InvalidArgumentException("lowLatency.numExperts", llExperts,
                            "a multiple of the ranks (" + ranks + ")");
                }
                if (llExperts > KernelConstants.LL_MAX_EXPERTS) {
                    throw new InvalidArgumentException("lowLatency.numExperts", llExperts,
                            "at most " + KernelConstants.LL_MAX_EXPERTS + " on the GPU");
                }
                llLocalExperts = llExperts / ranks;
                llCapacity = (long) ranks * llMaxTokens;
                long row = 2L * hidden;
                for (int s = 0; s < 2; s++) {
                    ll[s] = new LlSlot(take(llCapacity * row), take(8L * llCapacity * maxTopk),
                            take(4L * (llLocalExperts + 1) * ranks), take((long) llMaxTokens * maxTopk * row));
                }
            } else {
                llMaxTokens = 0;
                llExperts = 0;
                llLocalExperts = 0;
                llCapacity = 0;
            }
            heapBytes = at;

            at = 0;
            layoutPartials = take(4L * KernelConstants.LAYOUT_MAX_BLOCKS
                    * (KernelConstants.MAX_EXPERTS + KernelConstants.MAX_RANKS));
            if (llMaxTokens > 0) {
                long rows = llLocalExperts * llCapacity;
                for (int s = 0; s < 2; s++) {
                    llLocal[s] = new LlLocal(take(rows * 2L * hidden), take(rows * 4L * Math.max(1, hidden / 128)),
                            take(4L * llLocalExperts), take(4L * rows), take(4L * rows), take(8L * llLocalExperts * ranks),
                            take(4L * llMaxTokens * maxTopk));
                }
            }
            localBytes = at;
        } catch (ArithmeticException e) {
            throw new InvalidArgumentException("BufferSpec", spec, "sizes whose buffers fit in 2^63 bytes");
        }
    }

    public NormalSlot normal(int slot) {
        return normal[slot];
    }

    public LlSlot lowLatency(int slot) {
        return ll[slot];
    }

    public LlLocal lowLatencyLocal(int slot) {
        return llLocal[slot];
    }

    /** Bytes of a normal slot's x rows of {@code rowBytes} each, as a check on what a slot can take. */
    public boolean fitsRows(long rows, long rowBytes) {
        return rows <= capacity && rowBytes <= 2L * hidden;
    }
}
