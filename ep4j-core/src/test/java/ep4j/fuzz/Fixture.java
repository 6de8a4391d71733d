package ep4j.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.function.Executable;

/**
 * A small random valid case (group size, hidden, tokens per rank, top-k, experts) from a seed,
 * with the checks every fuzzed bad input shares: the call fails with an exception that names the
 * argument, the value and what was expected, in one line; it fails in bounded time; and it
 * changes nothing (the same buffers then serve a good step exactly as fresh buffers do).
 */
final class Fixture {
    /** The most one fuzz case may take, hangs included. */
    static final Duration BOUND = Duration.ofSeconds(20);
    /** The buffers' timeout: a peer that never comes fails the call within this. */
    static final Duration TIMEOUT = Duration.ofMillis(300);

    /** Draws made before the ranks run (not thread-safe: rank bodies use {@link #rnd(int)}). */
    final SplittableRandom rnd;
    private final long seed;
    final int ranks;
    final int hidden;
    final int maxTokens;
    final int topk;
    final int experts;
    final int[] tokens;

    Fixture(long seed, boolean fp8Hidden) {
        this(seed, fp8Hidden, 1);
    }

    Fixture(long seed, boolean fp8Hidden, int minRanks) {
        this.seed = seed;
        rnd = new SplittableRandom(seed);
        ranks = minRanks + rnd.nextInt(5 - minRanks);
        hidden = fp8Hidden ? 128 * (1 + rnd.nextInt(3)) : 8 * (1 + rnd.nextInt(40));
        maxTokens = 1 + rnd.nextInt(8);
        experts = ranks * (1 + rnd.nextInt(4));
        topk = 1 + rnd.nextInt(Math.min(4, experts));
        tokens = new int[ranks];
        for (int r = 0; r < ranks; r++) {
            tokens[r] = rnd.nextInt(maxTokens + 1);
        }
    }

    /** Rank r's own random stream, for draws inside a rank's body. */
    SplittableRandom rnd(int r) {
        return new SplittableRandom(seed * 1_000_003L + r);
    }

    BufferSpec spec() {
        return BufferSpec.normal(hidden, maxTokens).maxTopk(8).lowLatency(maxTokens, experts).timeout(TIMEOUT);
    }

    /** Random bf16 tokens {@code [t, hidden]} of rank r (finite values). */
    Tensor x(int r, int t) {
        SplittableRandom g = new SplittableRandom(r * 7919L + t + hidden);
        short[] bits = new short[t * hidden];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) ((g.nextBoolean() ? 0x8000 : 0) | (120 + g.nextInt(8)) << 7 | g.nextInt(128));
        }
        return Tensor.ofBf16Bits(bits, t, hidden);
    }

    Tensor x(int r) {
        return x(r, tokens[r]);
    }

    /** Distinct experts per token {@code [t, topk]}. */
    long[] routing(int r, int t) {
        SplittableRandom g = new SplittableRandom(r * 31L + t * 7L + experts);
        long[] idx = new long[t * topk];
        for (int i = 0; i < t; i++) {
            for (int k = 0; k < topk; k++) {
                long e;
                boolean again;
                do {
                    e = g.nextInt(experts);
                    again = false;
                    for (int j = 0; j < k; j++) {
                        again |= idx[i * topk + j] == e;
                    }
                } while (again);
                idx[i * topk + k] = e;
            }
        }
        return idx;
    }

    Tensor idx(int r) {
        return Tensor.ofLongs(routing(r, tokens[r]), tokens[r], topk);
    }

    Tensor weights(int r, int t) {
        float[] w = new float[t * topk];
        for (int i = 0; i < w.length; i++) {
            w[i] = 0.25f * (1 + i % 3);
        }
        return Tensor.ofFloats(w, t, topk);
    }

    /**
     * Some collective work per rank, after which the buffers must still serve {@link #goodStep}:
     * on {@code buf}, and where it needs one, on {@code other}, the rank's buffer of a second
     * allocation of the same group.
     */
    @FunctionalInterface
    interface RankWork {
        void run(int rank, EpBuffer buf, EpBuffer other) throws Exception;
    }

    /**
     * Runs {@code bad} on every rank of a fresh group (one thread each, bounded), then a good
     * step on the same buffers, and checks that step is bit for bit what fresh buffers give.
     */
    void rejectedAndNothingChanged(RankWork bad) {
        List<byte[]> after = assertTimeoutPreemptively(BOUND, () -> {
            try (EpGroup g = EpGroup.cpu(ranks); EpBuffers b = g.allocate(spec()); EpBuffers other = g.allocate(spec())) {
                return g.onEachRank(r -> {
                    bad.run(r, b.rank(r), other.rank(r));
                    return goodStep(r, b.rank(r));
                });
            }
        });
        List<byte[]> fresh = assertTimeoutPreemptively(BOUND, () -> {
            try (EpGroup g = EpGroup.cpu(ranks); EpBuffers b = g.allocate(spec())) {
                return g.onEachRank(r -> goodStep(r, b.rank(r)));
            }
        });
        for (int r = 0; r < ranks; r++) {
            assertArrayEquals(fresh.get(r), after.get(r), "rank " + r + ": the good step after the rejected call");
        }
    }

    /** Layout, dispatch and combine of the fixture's case: the received rows and the combined tokens. */
    byte[] goodStep(int r, EpBuffer buf) {
        try (Tensor x = x(r);
             Tensor idx = idx(r);
             DispatchLayout layout = buf.layout(idx, experts);
             Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, weights(r, tokens[r])).layout(layout));
             Combined c = buf.combine(CombineArgs.of(d.x(), d.handle()))) {
            byte[] a = d.x().toByteArray();
            byte[] b = c.x().toByteArray();
            byte[] both = java.util.Arrays.copyOf(a, a.length + b.length);
            System.arraycopy(b, 0, both, a.length, b.length);
            return both;
        }
    }

    /**
     * The call is an {@link InvalidArgumentException} for {@code argument} (exactly), whose value
     * contains {@code value} and whose expectation contains {@code expected}; one line.
     */
    static InvalidArgumentException invalid(String argument, String value, String expected, Executable call) {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, call);
        assertEquals(argument, e.argument(), e.getMessage());
        assertTrue(e.value().contains(value), "value \"" + value + "\" in: " + e.getMessage());
        assertTrue(e.expected().contains(expected), "expected \"" + expected + "\" in: " + e.getMessage());
        oneLine(e);
        return e;
    }

    /** A message fit for a user: one line, no stack trace, naming something. */
    static void oneLine(Throwable e) {
        String m = e.getMessage();
        assertTrue(m != null && !m.isBlank(), "a message: " + e);
        assertFalse(m.contains("\n") || m.contains("\tat "), "one line: " + m);
    }

    static Tensor zeros(DType dtype, long... shape) {
        return Tensor.allocateHost(dtype, shape);
    }
}
