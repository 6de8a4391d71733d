package ep4j.fuzz;

import static ep4j.fuzz.Fixture.invalid;
import static ep4j.fuzz.Fixture.zeros;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.LowLatencyDispatchArgs;
import ep4j.Tensor;
import java.util.Arrays;

/**
 * Malformed arguments of one rank's call, drawn from a seed: wrong dtypes, wrong shapes, token
 * counts that disagree between tensors, expert indices out of range, top-k beyond the buffer,
 * fp8 with a hidden size that is not a multiple of 128, expert counts the group cannot split, and
 * sizes that overflow. Every rank makes the same bad call; each must be rejected naming the
 * argument, the value and what was expected, and change nothing ({@link Fixture#rejectedAndNothingChanged}).
 */
final class BadArguments {
    private static final DType[] NOT_BF16 = {DType.FP8_E4M3, DType.FLOAT32, DType.INT32, DType.INT64, DType.UINT8};

    private BadArguments() {
    }

    /** x of another dtype than the call's (bf16 for a bf16 dispatch, e4m3 for fp8). */
    static void wrongDtypeOfX(long seed) {
        Fixture f = new Fixture(seed, true);
        DType bad = NOT_BF16[f.rnd.nextInt(NOT_BF16.length)];
        boolean fp8 = f.rnd.nextBoolean();
        f.rejectedAndNothingChanged((r, buf, other) -> {
            Tensor idx = f.idx(r);
            try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                int t = f.tokens[r];
                if (fp8) {
                    Tensor scales = zeros(DType.FLOAT32, t, f.hidden / 128);
                    invalid("x.dtype", "BF16", "FP8_E4M3",
                            () -> buf.dispatch(DispatchArgs.fp8(f.x(r), scales).topk(idx, null).layout(layout)));
                } else {
                    invalid("x.dtype", bad.name(), "BF16",
                            () -> buf.dispatch(DispatchArgs.of(zeros(bad, t, f.hidden)).topk(idx, null).layout(layout)));
                }
            }
            invalid("x.dtype", bad.name(), "BF16", () -> buf.lowLatencyDispatch(
                    LowLatencyDispatchArgs.of(zeros(bad, f.tokens[r], f.hidden), f.idx(r), f.experts)));
        });
    }

    /** Another hidden size, or not two axes. */
    static void wrongShapeOfX(long seed) {
        Fixture f = new Fixture(seed, false);
        int variant = f.rnd.nextInt(3);
        int otherHidden = f.hidden + 8 * (1 + f.rnd.nextInt(4)) * (f.rnd.nextBoolean() || f.hidden <= 40 ? 1 : -1);
        f.rejectedAndNothingChanged((r, buf, other) -> {
            int t = f.tokens[r];
            long[] shape = variant == 0 ? new long[] {t, otherHidden} : variant == 1 ? new long[] {(long) t * f.hidden}
                    : new long[] {1, t, f.hidden};
            Tensor idx = f.idx(r);
            try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                invalid("x.shape", Arrays.toString(shape), "[*, " + f.hidden + "]",
                        () -> buf.dispatch(DispatchArgs.of(zeros(DType.BF16, shape)).topk(idx, null).layout(layout)));
            }
        });
    }

    /** T that differs between x, the layout, topkIdx, the weights, the biases and combine's x. */
    static void tokenCountsThatDisagree(long seed) {
        Fixture f = new Fixture(seed, false);
        int variant = f.rnd.nextInt(6);
        f.rejectedAndNothingChanged((r, buf, other) -> {
            int t = f.tokens[r];
            java.util.SplittableRandom rr = f.rnd(r);
            int drawn = (t + 1 + rr.nextInt(f.maxTokens)) % (f.maxTokens + 1);
            int o = drawn == t ? (t + 1) % (f.maxTokens + 1) : drawn;
            Tensor x = f.x(r);
            Tensor idx = f.idx(r);
            Tensor otherIdx = Tensor.ofLongs(f.routing(r, o), o, f.topk);
            switch (variant) {
                case 0 -> {
                    try (DispatchLayout layout = buf.layout(otherIdx, f.experts)) {
                        invalid("layout.numTokens", Integer.toString(o), t + " (x.shape[0])",
                                () -> buf.dispatch(DispatchArgs.of(x).topk(otherIdx, null).layout(layout)));
                    }
                }
                case 1 -> {
                    try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                        invalid("topkIdx.shape[0]", Integer.toString(o), t + " (x.shape[0])",
                                () -> buf.dispatch(DispatchArgs.of(x).topk(otherIdx, null).layout(layout)));
                    }
                }
                case 2 -> {
                    try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                        invalid("topkWeights.shape", "[" + o + ", " + f.topk + "]", "[" + t + ", " + f.topk + "]",
                                () -> buf.dispatch(DispatchArgs.of(x).topk(idx, f.weights(r, o)).layout(layout)));
                    }
                }
                case 3, 4 -> {
                    try (DispatchLayout layout = buf.layout(idx, f.experts);
                         Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout))) {
                        if (variant == 3) {
                            Tensor bias = zeros(DType.BF16, o, f.hidden);
                            invalid("bias0.shape", "[" + o + ", " + f.hidden + "]", "[" + t + ", " + f.hidden + "]",
                                    () -> buf.combine(CombineArgs.of(d.x(), d.handle()).bias(bias)));
                        } else {
                            long rows = d.numRows() + 1 + rr.nextInt(3);
                            invalid("x.shape", "[" + rows + ", " + f.hidden + "]", "[" + d.numRows() + ", " + f.hidden + "]",
                                    () -> buf.combine(CombineArgs.of(zeros(DType.BF16, rows, f.hidden), d.handle())));
                        }
                    }
                }
                default -> invalid("topkIdx.shape", "[" + o + ", " + f.topk + "]", "[" + t + ", *]",
                        () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, otherIdx, f.experts)));
            }
        });
    }

    /** topkIdx, topkWeights or fp8 scales of a wrong dtype. */
    static void wrongDtypeOfRoutingOrScales(long seed) {
        Fixture f = new Fixture(seed, true);
        int variant = f.rnd.nextInt(3);
        f.rejectedAndNothingChanged((r, buf, other) -> {
            int t = f.tokens[r];
            Tensor idx = f.idx(r);
            if (variant == 0) {
                DType bad = f.rnd(r).nextBoolean() ? DType.FLOAT32 : DType.UINT8;
                invalid("topkIdx.dtype", bad.name(), "INT64", () -> buf.layout(zeros(bad, t, f.topk), f.experts));
                return;
            }
            try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                if (variant == 1) {
                    invalid("topkWeights.dtype", "BF16", "FLOAT32", () -> buf.dispatch(
                            DispatchArgs.of(f.x(r)).topk(idx, zeros(DType.BF16, t, f.topk)).layout(layout)));
                } else {
                    invalid("scales.dtype", "BF16", "FLOAT32", () -> buf.dispatch(DispatchArgs.fp8(
                            zeros(DType.FP8_E4M3, t, f.hidden), zeros(DType.BF16, t, f.hidden / 128)).topk(idx, null)
                            .layout(layout)));
                }
            }
        });
    }

    /** An expert index at or past E, or negative other than -1, in a random slot (int64 or int32). */
    static void expertIndexOutOfRange(long seed, boolean negative) {
        Fixture f = new Fixture(seed, false);
        boolean int32 = f.rnd.nextBoolean();
        long bad = negative ? (f.rnd.nextInt(4) == 0 ? (int32 ? Integer.MIN_VALUE : Long.MIN_VALUE) : -2 - f.rnd.nextInt(1000))
                : (f.rnd.nextInt(4) == 0 ? (int32 ? Integer.MAX_VALUE : Long.MAX_VALUE) : f.experts + f.rnd.nextInt(1000));
        int call = f.rnd.nextInt(3);
        f.rejectedAndNothingChanged((r, buf, other) -> {
            int t = Math.max(1, f.tokens[r]);
            long[] routing = f.routing(r, t);
            int slot = f.rnd(r).nextInt(routing.length);
            routing[slot] = bad;
            Tensor badIdx = int32 ? Tensor.ofInts(Arrays.stream(routing).mapToInt(v -> (int) v).toArray(), t, f.topk)
                    : Tensor.ofLongs(routing, t, f.topk);
            String arg = "topkIdx[" + slot / f.topk + "][" + slot % f.topk + "]";
            String expected = "-1 or an expert in [0, " + f.experts + ")";
            if (call == 0) {
                invalid(arg, Long.toString(bad), expected, () -> buf.layout(badIdx, f.experts));
            } else if (call == 1) {
                Tensor good = Tensor.ofLongs(f.routing(r, t), t, f.topk);
                try (DispatchLayout layout = buf.layout(good, f.experts)) {
                    invalid(arg, Long.toString(bad), expected,
                            () -> buf.dispatch(DispatchArgs.of(f.x(r, t)).topk(badIdx, null).layout(layout)));
                }
            } else {
                invalid(arg, Long.toString(bad), expected,
                        () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(f.x(r, t), badIdx, f.experts)));
            }
        });
    }

    /** K above the buffer's maxTopk (8 in the fixture). */
    static void topkAboveTheBuffer(long seed) {
        Fixture f = new Fixture(seed, false);
        int k = 9 + f.rnd.nextInt(100);
        f.rejectedAndNothingChanged((r, buf, other) -> invalid("topkIdx.shape[1]", Integer.toString(k), "at most 8",
                () -> buf.layout(zeros(DType.INT64, f.tokens[r], k), f.experts)));
    }

    /** fp8 (normal or low latency) with a hidden size that is a multiple of 8 but not of 128. */
    static void fp8WithHiddenNotAMultipleOf128(long seed) {
        Fixture f = new Fixture(seed, false);
        for (long s = seed + 1; f.hidden % 128 == 0; s++) {
            f = new Fixture(s, false); // a draw that fp8 takes: draw again
        }
        Fixture g = f;
        boolean ll = g.rnd.nextBoolean();
        g.rejectedAndNothingChanged((r, buf, other) -> {
            int t = g.tokens[r];
            Tensor idx = g.idx(r);
            if (ll) {
                invalid("hidden", Integer.toString(g.hidden), "a multiple of 128 for fp8",
                        () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(g.x(r), idx, g.experts).fp8()));
                return;
            }
            try (DispatchLayout layout = buf.layout(idx, g.experts)) {
                invalid("hidden", Integer.toString(g.hidden), "a multiple of 128 for fp8", () -> buf.dispatch(
                        DispatchArgs.fp8(zeros(DType.FP8_E4M3, t, g.hidden), zeros(DType.FLOAT32, t, 1)).topk(idx, null)
                                .layout(layout)));
            }
        });
    }

    /** E that is not a positive multiple of the group size, or not the buffer's low-latency E. */
    static void expertCountTheGroupCannotSplit(long seed) {
        Fixture f = new Fixture(seed, false, 2);
        int bad = f.rnd.nextBoolean() ? -f.rnd.nextInt(3) : f.experts + 1 + f.rnd.nextInt(f.ranks - 1);
        f.rejectedAndNothingChanged((r, buf, other) -> {
            String expected = bad <= 0 ? "a value > 0" : "a multiple of the group size " + f.ranks;
            invalid("numExperts", Integer.toString(bad), expected, () -> buf.layout(f.idx(r), bad));
            invalid("numExperts", Integer.toString(bad), f.experts + " (the buffer's BufferSpec lowLatency numExperts)",
                    () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(f.x(r), f.idx(r), bad)));
        });
    }

    /**
     * A low-latency capacity whose rows per expert ({@code R * maxTokensPerRank}) overflow an int:
     * the low-latency call is rejected naming the BufferSpec field (before anything is allocated);
     * the normal calls of the same buffer, sized by its other fields, still work.
     */
    static void hugeLowLatencyCapacity(long seed) {
        Fixture f = new Fixture(seed, false, 2);
        int n = Integer.MAX_VALUE / f.ranks + 1 + f.rnd.nextInt(Integer.MAX_VALUE - Integer.MAX_VALUE / f.ranks);
        Throwable[] got = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Fixture.BOUND, () -> {
            try (ep4j.EpGroup g = ep4j.EpGroup.cpu(f.ranks);
                 ep4j.EpBuffers b = g.allocate(BufferSpec.normal(f.hidden, f.maxTokens).lowLatency(n, f.experts)
                         .timeout(Fixture.TIMEOUT))) {
                return g.onEachRank(r -> {
                    invalid("BufferSpec lowLatency maxTokensPerRank", Integer.toString(n),
                            "at most " + Integer.MAX_VALUE / f.ranks + " for " + f.ranks + " ranks",
                            () -> b.rank(r).lowLatencyDispatch(LowLatencyDispatchArgs.of(f.x(r), f.idx(r), f.experts)));
                    f.goodStep(r, b.rank(r));
                    return null;
                }).toArray(new Throwable[0]);
            }
        });
        org.junit.jupiter.api.Assertions.assertEquals(f.ranks, got.length);
    }

    /**
     * Sizes that overflow or exceed the buffer: a shape whose byte size overflows a long, x with
     * more tokens than maxTokensPerRank, numWorstTokens beyond what a rank can receive (up to
     * Integer.MAX_VALUE) or negative.
     */
    static void hugeSizes(long seed) {
        Fixture f = new Fixture(seed, false);
        int variant = f.rnd.nextInt(4);
        f.rejectedAndNothingChanged((r, buf, other) -> {
            java.util.SplittableRandom rr = f.rnd(r);
            switch (variant) {
                case 0 -> {
                    long rows = Long.MAX_VALUE / (1 + rr.nextInt(f.hidden)); // times 2 * hidden bytes: past a long
                    invalid("shape", "[" + rows + ", " + f.hidden + "]", "at most 9223372036854775807 bytes",
                            () -> Tensor.allocateHost(DType.BF16, rows, f.hidden));
                }
                case 1 -> {
                    int t = f.maxTokens + 1 + rr.nextInt(1000);
                    Tensor idx = zeros(DType.INT64, f.maxTokens, f.topk);
                    try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                        invalid("x.shape[0]", Integer.toString(t), "at most " + f.maxTokens + " (BufferSpec maxTokensPerRank)",
                                () -> buf.dispatch(DispatchArgs.of(zeros(DType.BF16, t, f.hidden)).layout(layout)));
                    }
                }
                default -> {
                    long most = (long) f.ranks * f.maxTokens;
                    int worst = variant == 2 ? (int) Math.min(Integer.MAX_VALUE, most + 1 + rr.nextInt(Integer.MAX_VALUE))
                            : -1 - rr.nextInt(Integer.MAX_VALUE);
                    Tensor idx = f.idx(r);
                    try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                        invalid("numWorstTokens", Integer.toString(worst), "0 (exact size) or a row count of 1 to " + most,
                                () -> buf.dispatch(DispatchArgs.of(f.x(r)).topk(idx, null).layout(layout)
                                        .numWorstTokens(worst)));
                    }
                }
            }
        });
    }

    /** A BufferSpec whose sizes are out of range, rejected when concluded (allocate concludes it). */
    static void bufferSpecOutOfRange(long seed) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        switch (rnd.nextInt(4)) {
            case 0 -> invalid("maxTokensPerRank", "-", "a count >= 0",
                    () -> BufferSpec.normal(128, -1 - rnd.nextInt(Integer.MAX_VALUE)).conclude());
            case 1 -> invalid("maxTopk", "", "1 to 1024",
                    () -> BufferSpec.normal(128, 4).maxTopk(1025 + rnd.nextInt(Integer.MAX_VALUE - 1025)).conclude());
            case 2 -> invalid("hidden", "", "a positive multiple of 8",
                    () -> BufferSpec.normal(8 * rnd.nextInt(1000) + 1 + rnd.nextInt(7), 4).conclude());
            default -> invalid("lowLatency.maxTokensPerRank", "-", "a count >= 0",
                    () -> BufferSpec.normal(128, 4).lowLatency(-1 - rnd.nextInt(1000), 8).conclude());
        }
    }
}
