package ep4j.cli.soak;

import ep4j.BufferSpec;
import ep4j.codec.Fp8Mode;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * One soak step, drawn from its seed alone: the buffers' shape (shared by the
 * {@value #STEPS_PER_SHAPE} consecutive seeds of one block, so buffers are reused between
 * steps), the kind of call and its options, the tokens per rank and the routing. The data
 * itself ({@link SoakInputs}) comes from the same seed. The same seed gives the same case on
 * every machine, so a printed seed reproduces the step.
 */
record SoakCase(long seed, int ranks, Shape shape, Kind kind, Fp8Mode fp8, int experts, int topk, int[] tokens,
        boolean int32Index, boolean weights, int biases, boolean combineWeights, int alignment, boolean worstSized,
        boolean async, boolean keep, boolean hook, boolean zeroCopy, boolean callerOut, boolean viewAsExpertOutput) {
    /** Consecutive seeds that share a buffer shape. */
    static final int STEPS_PER_SHAPE = 8;

    /** What the step calls. */
    enum Kind {
        /** layout, dispatch, combine. */
        NORMAL("normal"),
        /** layout, dispatch, a cached dispatch of other tokens with its handle, combine. */
        CACHED("cached"),
        /** layout, dispatch with numWorstTokens (rows past the received count are not compared), combine. */
        WORST_SIZED("worst-sized"),
        /** low-latency dispatch and combine. */
        LOW_LATENCY("low-latency");

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    /** What the buffers are sized for; every step of a block of seeds fits it. */
    record Shape(int hidden, int maxTokens, int maxTopk, int llTokens, int llExperts) {
        BufferSpec spec(Duration timeout) {
            return BufferSpec.normal(hidden, maxTokens).maxTopk(maxTopk).lowLatency(llTokens, llExperts).timeout(timeout);
        }

        boolean fp8Capable() {
            return hidden % Fp8Mode.BLOCK == 0;
        }

        @Override
        public String toString() {
            return "hidden " + hidden + ", maxTokensPerRank " + maxTokens + ", maxTopk " + maxTopk + ", low latency "
                    + llTokens + " tokens x " + llExperts + " experts";
        }
    }

    static Shape shape(long seed, int ranks) {
        SplittableRandom rnd = new SplittableRandom(mix(Math.floorDiv(seed, STEPS_PER_SHAPE), 0x5EED));
        // Mostly multiples of 128 (fp8 takes those); one block in six a bf16-only multiple of 8.
        int hidden = rnd.nextInt(6) == 0 ? 8 * (1 + rnd.nextInt(48)) : 128 * (1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 56 : 8));
        int maxTokens = hidden > 1024 ? 1 + rnd.nextInt(16) : 1 + rnd.nextInt(64);
        int maxTopk = 1 + rnd.nextInt(9);
        int llTokens = 1 + rnd.nextInt(hidden > 1024 ? 4 : 16);
        int llExperts = ranks * (1 + rnd.nextInt(4));
        return new Shape(hidden, maxTokens, maxTopk, llTokens, llExperts);
    }

    /** The case of {@code seed} for a group of {@code ranks}. */
    static SoakCase draw(long seed, int ranks) {
        Shape shape = shape(seed, ranks);
        SplittableRandom rnd = new SplittableRandom(mix(seed, 0xCA5E));
        Kind kind = pick(rnd, new Kind[] {Kind.NORMAL, Kind.NORMAL, Kind.CACHED, Kind.WORST_SIZED, Kind.LOW_LATENCY,
            Kind.LOW_LATENCY});
        Fp8Mode fp8 = shape.fp8Capable() && rnd.nextInt(5) < 2 ? pick(rnd, Fp8Mode.values()) : null;
        boolean ll = kind == Kind.LOW_LATENCY;
        int experts = ll ? shape.llExperts() : ranks * (1 + rnd.nextInt(8));
        int topk = 1 + rnd.nextInt(shape.maxTopk());
        int cap = ll ? shape.llTokens() : shape.maxTokens();
        int[] tokens = new int[ranks];
        for (int r = 0; r < ranks; r++) {
            // Now and then a rank with no tokens, or one at the buffer's limit.
            int draw = rnd.nextInt(10);
            tokens[r] = draw == 0 ? 0 : draw == 1 ? cap : rnd.nextInt(cap + 1);
        }
        return new SoakCase(seed, ranks, shape, kind, fp8, experts, topk, tokens, rnd.nextInt(4) == 0,
                rnd.nextInt(4) != 0, rnd.nextInt(3), rnd.nextBoolean(), rnd.nextInt(3) == 0 ? 1 << rnd.nextInt(5) : 1,
                kind == Kind.WORST_SIZED, rnd.nextInt(3) == 0, rnd.nextInt(3) == 0, ll && rnd.nextBoolean(),
                ll && rnd.nextInt(3) == 0, ll && rnd.nextInt(3) == 0, fp8 == null && rnd.nextBoolean());
    }

    /** The routing of rank {@code r}: {@code [T, K]} experts, mostly distinct, now and then -1 or a duplicate. */
    long[] routing(int r) {
        SplittableRandom rnd = new SplittableRandom(mix(seed, 0x1D0 + r));
        int t = tokens[r];
        long[] idx = new long[t * topk];
        int style = rnd.nextInt(4); // 0: distinct, 1: with -1 slots, 2: with duplicates, 3: skewed to one rank
        int local = experts / ranks;
        int hot = rnd.nextInt(ranks);
        for (int i = 0; i < t; i++) {
            for (int k = 0; k < topk; k++) {
                long e;
                if (style == 1 && rnd.nextInt(4) == 0) {
                    e = -1;
                } else if (style == 2 && k > 0 && rnd.nextInt(3) == 0) {
                    e = idx[i * topk + rnd.nextInt(k)];
                } else if (style == 3 && rnd.nextInt(4) != 0) {
                    e = hot * local + rnd.nextInt(local);
                } else {
                    e = distinct(rnd, idx, i * topk, k);
                }
                idx[i * topk + k] = e;
            }
        }
        return idx;
    }

    /** An expert not yet in slots {@code [base, base + k)}, or any expert when all are taken. */
    private long distinct(SplittableRandom rnd, long[] idx, int base, int k) {
        if (k >= experts) {
            return rnd.nextInt(experts);
        }
        while (true) {
            long e = rnd.nextInt(experts);
            boolean seen = false;
            for (int j = 0; j < k && !seen; j++) {
                seen = idx[base + j] == e;
            }
            if (!seen) {
                return e;
            }
        }
    }

    /** Rows rank {@code j} receives in a normal dispatch: tokens of every rank with an expert there. */
    int[] receivedRows() {
        int local = experts / ranks;
        int[] rows = new int[ranks];
        for (int r = 0; r < ranks; r++) {
            long[] idx = routing(r);
            for (int t = 0; t < tokens[r]; t++) {
                boolean[] to = new boolean[ranks];
                for (int k = 0; k < topk; k++) {
                    long e = idx[t * topk + k];
                    if (e >= 0 && !to[(int) (e / local)]) {
                        to[(int) (e / local)] = true;
                        rows[(int) (e / local)]++;
                    }
                }
            }
        }
        return rows;
    }

    /** The numWorstTokens of a worst-sized step: at least what any rank receives, at most what a buffer allows. */
    int numWorstTokens() {
        int most = Math.max(1, Arrays.stream(receivedRows()).max().orElse(0));
        int limit = ranks * shape.maxTokens();
        SplittableRandom rnd = new SplittableRandom(mix(seed, 0x3057));
        return most + rnd.nextInt(limit - most + 1);
    }

    /** What the step is, in one line: the seed, the shape and the mode. */
    String describe() {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "seed %d: %s, %d ranks, tokens %s, top-%d of %d experts",
                seed, mode(), ranks, Arrays.toString(tokens), topk, experts));
        sb.append(", hidden ").append(shape.hidden());
        sb.append(int32Index ? ", int32 indices" : "");
        if (kind == Kind.LOW_LATENCY) {
            sb.append(", N ").append(shape.llTokens());
            sb.append(zeroCopy ? ", zero-copy" : "").append(callerOut ? ", caller's out" : "");
        } else {
            sb.append(weights ? ", weights" : "").append(biases > 0 ? ", " + biases + " bias" + (biases > 1 ? "es" : "") : "");
            sb.append(combineWeights && weights ? ", combined weights" : "");
            sb.append(alignment > 1 ? ", alignment " + alignment : "");
            sb.append(keep ? ", keep()" : "").append(viewAsExpertOutput ? ", view as expert output" : "");
        }
        return sb.append(async ? ", async" : "").toString();
    }

    /** The mode alone, for the per-mode counts: {@code normal fp8 (ue8m0)}, {@code low-latency bf16 + hook}. */
    String mode() {
        String data = fp8 == null ? "bf16" : "fp8" + (fp8 == Fp8Mode.DEFAULT ? "" : " (" + fp8.name().toLowerCase(Locale.ROOT)
                .replace('_', ' ') + ")");
        return kind.label + " " + data + (hook ? " + hook" : "");
    }

    private static <T> T pick(SplittableRandom rnd, T[] from) {
        return from[rnd.nextInt(from.length)];
    }

    /** A 64-bit mix of a seed and a stream number (SplitMix64's finalizer), so nearby seeds draw unrelated cases. */
    static long mix(long seed, long stream) {
        long z = seed * 0x9E3779B97F4A7C15L + stream;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
