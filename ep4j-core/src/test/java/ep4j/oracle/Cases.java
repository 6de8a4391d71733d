package ep4j.oracle;

import ep4j.Tensor;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;

/**
 * Random MoE routing cases: per-rank tokens {@code x} (bf16 bit patterns, every value exactly a
 * bf16 and non-zero), {@code topkIdx} and {@code topkWeights}. Reproducible from the seed.
 *
 * <pre>{@code
 * Cases.Case c = Cases.options().ranks(4).experts(16).hidden(256).topk(4).tokens(7, 0, 12, 3)
 *         .minusOne(0.2).seed(42).generate();
 * Tensor x0 = c.x(0);   // host tensors, owned by the caller
 * }</pre>
 */
public final class Cases {
    private Cases() {
    }

    public static Options options() {
        return new Options();
    }

    /** How to generate a case. Defaults: 2 ranks, 8 experts, hidden 128, top-2, 8 tokens per rank, seed 1. */
    public static final class Options {
        private int ranks = 2;
        private int experts = 8;
        private int hidden = 128;
        private int topk = 2;
        private int[] tokens = {8};
        private double minusOne;
        private double duplicates;
        private int unbalancedTarget = -1;
        private IntPredicate allowedExperts = e -> true;
        private boolean smallIntegers;
        private long seed = 1;

        public Options ranks(int ranks) {
            this.ranks = ranks;
            return this;
        }

        public Options experts(int experts) {
            this.experts = experts;
            return this;
        }

        public Options hidden(int hidden) {
            this.hidden = hidden;
            return this;
        }

        public Options topk(int topk) {
            this.topk = topk;
            return this;
        }

        /** Tokens per rank: one value for every rank, or one per rank (0 allowed). */
        public Options tokens(int... perRank) {
            this.tokens = perRank.clone();
            return this;
        }

        /** Probability that a topk slot is -1. */
        public Options minusOne(double fraction) {
            this.minusOne = fraction;
            return this;
        }

        /** Probability that a slot repeats the expert of the slot before it (the duplicate policy). */
        public Options duplicates(double fraction) {
            this.duplicates = fraction;
            return this;
        }

        /** Every token picks experts of rank {@code target} only (slots past its expert count are -1). */
        public Options unbalanced(int target) {
            this.unbalancedTarget = target;
            return this;
        }

        /** Only these experts are ever chosen (so that some experts receive nothing). */
        public Options allowedExperts(IntPredicate allowed) {
            this.allowedExperts = allowed;
            return this;
        }

        /** x values are small non-zero integers (-4..4), so sums of a few are exact in bf16. */
        public Options smallIntegers(boolean small) {
            this.smallIntegers = small;
            return this;
        }

        public Options seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Case generate() {
            return Cases.generate(this);
        }

        @Override
        public String toString() {
            return "R=" + ranks + " E=" + experts + " H=" + hidden + " K=" + topk + " T=" + Arrays.toString(tokens)
                    + " minusOne=" + minusOne + " dup=" + duplicates + " unbalanced=" + unbalancedTarget + " seed="
                    + seed;
        }
    }

    /** One generated case: plain arrays per rank, plus helpers that make host tensors of them. */
    public static final class Case {
        public final int ranks;
        public final int experts;
        public final int hidden;
        public final int topk;
        /** Tokens of each rank. */
        public final int[] tokens;
        /** Per rank {@code [T, H]} bf16 bit patterns. */
        public final short[][] x;
        /** Per rank {@code [T, K]} expert indices, -1 for none. */
        public final long[][] topkIdx;
        /** Per rank {@code [T, K]} float32 weights (also for -1 slots). */
        public final float[][] topkWeights;
        public final String description;

        public Case(int ranks, int experts, int hidden, int topk, int[] tokens, short[][] x, long[][] topkIdx,
                float[][] topkWeights, String description) {
            this.ranks = ranks;
            this.experts = experts;
            this.hidden = hidden;
            this.topk = topk;
            this.tokens = tokens;
            this.x = x;
            this.topkIdx = topkIdx;
            this.topkWeights = topkWeights;
            this.description = description;
        }

        public int localExperts() {
            return experts / ranks;
        }

        public int maxTokens() {
            return Arrays.stream(tokens).max().orElse(0);
        }

        /** {@code [T, H]} bf16 host tensor of rank {@code r}'s tokens. */
        public Tensor x(int r) {
            return Tensor.ofBf16Bits(x[r], tokens[r], hidden);
        }

        /** {@code [T, K]} int64. */
        public Tensor topkIdx(int r) {
            return Tensor.ofLongs(topkIdx[r], tokens[r], topk);
        }

        /** {@code [T, K]} int32. */
        public Tensor topkIdxInt32(int r) {
            int[] v = new int[topkIdx[r].length];
            for (int i = 0; i < v.length; i++) {
                v[i] = (int) topkIdx[r][i];
            }
            return Tensor.ofInts(v, tokens[r], topk);
        }

        public Tensor topkWeights(int r) {
            return Tensor.ofFloats(topkWeights[r], tokens[r], topk);
        }

        /** x of rank r as little-endian bytes, {@code 2 * H} per row. */
        public byte[] xBytes(int r) {
            return Oracle.bytes(x[r]);
        }

        @Override
        public String toString() {
            return description;
        }
    }

    static Case generate(Options o) {
        if (o.ranks < 1 || o.experts % o.ranks != 0 || o.topk < 1 || o.hidden < 1) {
            throw new IllegalArgumentException("bad case options " + o);
        }
        int[] tokens = new int[o.ranks];
        for (int r = 0; r < o.ranks; r++) {
            tokens[r] = o.tokens.length == 1 ? o.tokens[0] : o.tokens[r];
        }
        SplittableRandom rnd = new SplittableRandom(o.seed);
        int local = o.experts / o.ranks;
        int[] pool = java.util.stream.IntStream.range(0, o.experts)
                .filter(e -> o.unbalancedTarget < 0 || e / local == o.unbalancedTarget)
                .filter(o.allowedExperts).toArray();
        short[][] x = new short[o.ranks][];
        long[][] idx = new long[o.ranks][];
        float[][] w = new float[o.ranks][];
        for (int r = 0; r < o.ranks; r++) {
            int t = tokens[r];
            x[r] = new short[t * o.hidden];
            for (int i = 0; i < x[r].length; i++) {
                x[r][i] = value(rnd, o.smallIntegers);
            }
            idx[r] = new long[t * o.topk];
            w[r] = new float[t * o.topk];
            for (int tok = 0; tok < t; tok++) {
                int[] shuffled = pool.clone();
                for (int i = 0; i < shuffled.length - 1; i++) {
                    int j = i + rnd.nextInt(shuffled.length - i);
                    int tmp = shuffled[i];
                    shuffled[i] = shuffled[j];
                    shuffled[j] = tmp;
                }
                for (int k = 0; k < o.topk; k++) {
                    long e = k < shuffled.length ? shuffled[k] : -1;
                    if (k > 0 && rnd.nextDouble() < o.duplicates) {
                        e = idx[r][tok * o.topk + k - 1];
                    }
                    if (rnd.nextDouble() < o.minusOne) {
                        e = -1;
                    }
                    idx[r][tok * o.topk + k] = e;
                    // Full-precision weights, so that a product w * y is not exact and fma is observable.
                    w[r][tok * o.topk + k] = 1f - rnd.nextFloat();
                }
            }
        }
        return new Case(o.ranks, o.experts, o.hidden, o.topk, tokens, x, idx, w, o.toString());
    }

    private static short value(SplittableRandom rnd, boolean smallIntegers) {
        float f;
        if (smallIntegers) {
            int v = rnd.nextInt(8) - 4;
            f = v >= 0 ? v + 1 : v;
        } else {
            // 8 significant bits (exactly a bf16) over 33 binades, so that float sums of a few of
            // them round, and summation order is observable.
            f = (1 + rnd.nextInt(128) / 128f) * Math.scalb(1f, rnd.nextInt(33) - 16) * (rnd.nextBoolean() ? 1 : -1);
        }
        // Truncating to the upper 16 bits makes the value exactly a bf16.
        short bits = (short) (Float.floatToRawIntBits(f) >>> 16);
        return bits == 0 || bits == (short) 0x8000 ? (short) 0x3F80 : bits;
    }
}
