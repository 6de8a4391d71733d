package ep4j.cli.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Host memory of the bench on the CPU backend, where every tensor is host memory (off-heap,
 * outside the JVM's -Xmx), and the default sizes that keep it within a budget: the lesser of
 * 3.5 GiB and half the machine's memory. Estimates are upper bounds fitted to
 * measured peaks (4 ranks, hidden 7168, top-8 of 256: 5.4 GB at 4096 tokens, 8.2 GB at
 * low-latency 128, 3.1 GB at 2048 / low-latency 32):
 * <ul>
 *   <li>a normal size holds per rank its tokens (bf16 and fp8), the combined tokens, and its
 *       received rows about six times over (the dispatch result, the pooled results of the
 *       other cases, the baseline's source and destination, and the send region peers read,
 *       grown to the largest call: the combine's, which sends every received row back);</li>
 *   <li>low-latency buffers hold per rank two slots of {@code [E, N, H]} received rows and
 *       combine inputs (bf16) with their scales: about {@code 8 E N H} bytes;</li>
 *   <li>the JVM itself about {@value #JVM_MIB} MiB.</li>
 * </ul>
 * Normal sizes run before the low-latency ones, each freeing its memory, so the peak is the
 * larger of the two.
 */
final class CpuSizing {
    /** 3.5 GiB: the default run fits a laptop of 8 GB with room for the rest of the system. */
    static final long CAP = 3584L << 20;
    static final int JVM_MIB = 640;
    static final long JVM = (long) JVM_MIB << 20;
    static final int FULL_TOKENS = 4096;
    static final int FULL_LL_TOKENS = 128;
    static final int MIN_TOKENS = 128;
    static final int MIN_LL_TOKENS = 16;

    /** Chosen sizes, their estimated peak, and the budget they were chosen for. */
    record Choice(int tokens, int llTokens, long peakBytes, long budgetBytes, long physicalBytes, boolean reduced) {
        /** One line for the user: what was chosen and why, and how to ask for the full size. */
        String describe(int ranks, int hidden, int topk, int experts) {
            String machine = physicalBytes > 0 ? "half the " + gib(physicalBytes) + " GiB of this machine"
                    : "this machine's memory (unknown)";
            String s = "CPU backend: " + tokens + " tokens per rank, low-latency " + llTokens + ", about "
                    + gb(peakBytes) + " GB of memory at most (budget " + gib(budgetBytes) + " GiB: the lesser of "
                    + gib(CAP) + " GiB and " + machine + ")";
            if (reduced) {
                s += "; the full case (--tokens " + FULL_TOKENS + " --ll-tokens " + FULL_LL_TOKENS + ") needs about "
                        + gb(CpuSizing.peakBytes(ranks, FULL_TOKENS, FULL_LL_TOKENS, hidden, topk, experts)) + " GB";
            }
            return s;
        }
    }

    private CpuSizing() {
    }

    /**
     * The sizes to run: each given one as it is, each missing one the largest (halving from the
     * full case) whose estimate fits the budget, down to {@value #MIN_TOKENS} and
     * {@value #MIN_LL_TOKENS}.
     */
    static Choice choose(Integer tokens, Integer llTokens, int ranks, int hidden, int topk, int experts,
            long physicalBytes) {
        long budget = physicalBytes > 0 ? Math.min(CAP, physicalBytes / 2) : CAP;
        int t = tokens != null ? tokens : FULL_TOKENS;
        while (tokens == null && t > MIN_TOKENS && JVM + normalBytes(ranks, t, hidden, topk, experts) > budget) {
            t /= 2;
        }
        int n = llTokens != null ? llTokens : FULL_LL_TOKENS;
        while (llTokens == null && n > MIN_LL_TOKENS && JVM + lowLatencyBytes(ranks, n, hidden, experts) > budget) {
            n /= 2;
        }
        boolean reduced = t != FULL_TOKENS || n != FULL_LL_TOKENS;
        return new Choice(t, n, peakBytes(ranks, t, n, hidden, topk, experts), budget, physicalBytes,
                reduced && (tokens == null || llTokens == null));
    }

    static long peakBytes(int ranks, int tokens, int llTokens, int hidden, int topk, int experts) {
        return JVM + Math.max(normalBytes(ranks, tokens, hidden, topk, experts),
                lowLatencyBytes(ranks, llTokens, hidden, experts));
    }

    /** All ranks at one normal size. */
    static long normalBytes(int ranks, int tokens, int hidden, int topk, int experts) {
        double bf16Row = 2.0 * hidden;
        double fp8Row = hidden + 4.0 * (hidden / 128);
        double recvRows = (double) ranks * tokens * reachProbability(ranks, topk, experts);
        double perRank = tokens * (bf16Row + fp8Row) + tokens * bf16Row + recvRows * (5 * bf16Row + fp8Row);
        return (long) Math.ceil(ranks * perRank);
    }

    /** All ranks' low-latency buffers of capacity {@code n} tokens per rank. */
    static long lowLatencyBytes(int ranks, int n, int hidden, int experts) {
        double perSlot = (double) experts * n * (4.0 * hidden + 4.0 * (hidden / 128) + 4);
        return (long) Math.ceil(ranks * 2 * perSlot);
    }

    /** The chance that a token's top-k distinct experts (drawn uniformly) include one on a given rank. */
    static double reachProbability(int ranks, int topk, int experts) {
        int local = experts / ranks;
        double none = 1;
        for (int i = 0; i < topk; i++) {
            none *= Math.max(0, experts - local - i) / (double) (experts - i);
        }
        return 1 - none;
    }

    /** The machine's memory in bytes (its container's limit where there is one), or -1 when unknown. */
    static long physicalBytes() {
        if (ModuleLayer.boot().findModule("jdk.management").isPresent()) {
            try {
                if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                    long total = os.getTotalMemorySize();
                    if (total > 0) {
                        return total;
                    }
                }
            } catch (RuntimeException | LinkageError e) {
                // fall back to /proc/meminfo
            }
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return -1;
    }

    static String gb(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / 1e9);
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / (double) (1L << 30));
    }
}
