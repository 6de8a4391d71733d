package ep4j.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.codec.E4M3;
import java.util.SplittableRandom;

/**
 * Inputs that look malformed but are legal, so the fuzz checks they are <b>accepted</b> and
 * handled as the design says, rather than rejected:
 * <ul>
 *   <li>a duplicated expert in one token (DESIGN 2.2, 2.4: "a duplicated expert in one token
 *       counts once"), and K larger than E (possible only with duplicates or -1 slots, so legal
 *       for the same reason): counted once per token in the layout, the received per-expert
 *       counts and the low-latency receive counts;</li>
 *   <li>NaN and infinities in bf16 tokens: legal data; dispatch moves them bit for bit (normal
 *       and low latency), and the low-latency fp8 quantizer maps them as DESIGN 2.6 and
 *       {@link ep4j.codec.Fp8Quantizer} say: a NaN channel is the NaN code 0x7F and does not take
 *       part in its block's amax; an infinite channel makes the block's scale +Inf, its own code
 *       0x7F and every finite channel of the block a zero of its sign.</li>
 * </ul>
 */
final class LegalOddities {
    private LegalOddities() {
    }

    /** Duplicates in tokens (and, when {@code kAboveE}, more slots than experts): accepted, each expert counted once per token. */
    static void duplicatesCountOnce(long seed, boolean kAboveE) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int ranks = 1 + rnd.nextInt(3);
        int experts = ranks * (1 + rnd.nextInt(kAboveE ? 2 : 4));
        int topk = kAboveE ? experts + 1 + rnd.nextInt(8 - Math.min(7, experts)) : 2 + rnd.nextInt(4);
        int tokens = 1 + rnd.nextInt(6);
        int hidden = 128;
        long[][] idx = new long[ranks][tokens * topk];
        for (int r = 0; r < ranks; r++) {
            for (int i = 0; i < idx[r].length; i++) {
                int k = i % topk;
                // A slot repeats an earlier one of its token half the time, else any expert or -1.
                idx[r][i] = k > 0 && rnd.nextBoolean() ? idx[r][i - 1 - rnd.nextInt(k)] : rnd.nextInt(experts + 1) - 1;
            }
        }
        int local = experts / ranks;
        int[][] recvPerExpert = new int[ranks][local];
        for (int r = 0; r < ranks; r++) {
            for (int t = 0; t < tokens; t++) {
                java.util.Set<Long> distinct = new java.util.HashSet<>();
                for (int k = 0; k < topk; k++) {
                    long e = idx[r][t * topk + k];
                    if (e >= 0 && distinct.add(e)) {
                        recvPerExpert[(int) (e / local)][(int) (e % local)]++;
                    }
                }
            }
        }
        int maxTopk = Math.max(topk, 8);
        java.util.List<int[][]> got = assertTimeoutPreemptively(Fixture.BOUND, () -> {
            try (EpGroup g = EpGroup.cpu(ranks);
                 EpBuffers b = g.allocate(ep4j.BufferSpec.normal(hidden, tokens).maxTopk(maxTopk).lowLatency(tokens, experts)
                         .timeout(Fixture.TIMEOUT))) {
                return g.onEachRank(r -> {
                    Tensor x = Tensor.allocateHost(DType.BF16, tokens, hidden);
                    Tensor t = Tensor.ofLongs(idx[r], tokens, topk);
                    try (DispatchLayout layout = b.rank(r).layout(t, experts);
                         Dispatched d = b.rank(r).dispatch(DispatchArgs.of(x).topk(t, null).layout(layout))) {
                        LowLatencyDispatched ll = b.rank(r).lowLatencyDispatch(LowLatencyDispatchArgs.of(x, t, experts));
                        return new int[][] {layout.tokensPerExpert().toIntArray(), d.tokensPerExpertList(),
                            ll.recvCount().toIntArray()};
                    }
                });
            }
        });
        for (int r = 0; r < ranks; r++) {
            int[] want = new int[experts];
            for (int t = 0; t < tokens; t++) {
                java.util.Set<Long> distinct = new java.util.HashSet<>();
                for (int k = 0; k < topk; k++) {
                    long e = idx[r][t * topk + k];
                    if (e >= 0 && distinct.add(e)) {
                        want[(int) e]++;
                    }
                }
            }
            assertArrayEquals(want, got.get(r)[0], "layout.tokensPerExpert of rank " + r);
            assertArrayEquals(recvPerExpert[r], got.get(r)[1], "tokensPerExpertList of rank " + r);
            assertArrayEquals(recvPerExpert[r], got.get(r)[2], "low-latency recvCount of rank " + r);
        }
    }

    /** bf16 bit patterns of NaNs (payloads and signs) and infinities. */
    private static final short[] SPECIALS = {0x7FC0, (short) 0xFFC0, 0x7FC1, 0x7F81, (short) 0xFFFF, 0x7F80, (short) 0xFF80};

    /**
     * One rank sends one token to its one expert, normal and low latency (bf16 and fp8): the
     * received bf16 rows equal the sent bits, and the fp8 codes and scales follow DESIGN 2.6.
     */
    static void nanAndInfinity(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int hidden = 128 * (1 + rnd.nextInt(3));
        int blocks = hidden / 128;
        short[] bits = new short[hidden];
        for (int i = 0; i < hidden; i++) {
            bits[i] = (short) ((rnd.nextBoolean() ? 0x8000 : 0) | (120 + rnd.nextInt(10)) << 7 | rnd.nextInt(128));
        }
        for (int n = 1 + rnd.nextInt(6); n > 0; n--) {
            bits[rnd.nextInt(hidden)] = SPECIALS[rnd.nextInt(SPECIALS.length)];
        }
        boolean ue8m0 = rnd.nextBoolean();
        Object[] got = assertTimeoutPreemptively(Fixture.BOUND, () -> {
            try (EpGroup g = EpGroup.cpu(1);
                 EpBuffers b = g.allocate(ep4j.BufferSpec.normal(hidden, 1).lowLatency(1, 1).timeout(Fixture.TIMEOUT))) {
                return g.onEachRank(r -> {
                    Tensor x = Tensor.ofBf16Bits(bits, 1, hidden);
                    Tensor idx = Tensor.ofLongs(new long[] {0}, 1, 1);
                    short[] normal;
                    try (DispatchLayout layout = b.rank(0).layout(idx, 1);
                         Dispatched d = b.rank(0).dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout))) {
                        normal = d.x().toShortArray();
                    }
                    short[] ll = rowOf(b.rank(0).lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, 1)).x().toShortArray(), hidden);
                    LowLatencyDispatched q = b.rank(0).lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, 1).fp8(false, ue8m0));
                    byte[] codes = java.util.Arrays.copyOf(q.x().toByteArray(), hidden);
                    byte[] scales = q.scales().toByteArray();
                    return new Object[] {normal, ll, codes, scales};
                }).get(0);
            }
        });
        assertArrayEquals(bits, (short[]) got[0], "normal dispatch moves NaN and Inf bits unchanged");
        assertArrayEquals(bits, (short[]) got[1], "low-latency dispatch moves NaN and Inf bits unchanged");
        byte[] codes = (byte[]) got[2];
        java.nio.ByteBuffer scales = java.nio.ByteBuffer.wrap((byte[]) got[3]).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int blk = 0; blk < blocks; blk++) {
            float amax = 0;
            boolean inf = false;
            for (int c = blk * 128; c < (blk + 1) * 128; c++) {
                float v = Float.intBitsToFloat(bits[c] << 16);
                inf |= Float.isInfinite(v);
                if (!Float.isNaN(v)) {
                    amax = Math.max(amax, Math.abs(v));
                }
            }
            amax = Math.max(amax, 1e-4f);
            float scale = inf ? Float.POSITIVE_INFINITY : ep4j.codec.Fp8Quantizer.ceilPowerOfTwo(amax / 448f);
            if (ue8m0) {
                int exponent = scales.get(blk) & 0xFF;
                assertEquals(inf ? 0xFF : Math.getExponent(scale) + 127, exponent, "UE8M0 exponent of block " + blk);
            } else {
                float s = scales.getFloat(4 * blk);
                assertEquals(Float.floatToIntBits(inf ? Float.POSITIVE_INFINITY : amax / 448f), Float.floatToIntBits(s),
                        "scale of block " + blk);
                scale = s;
            }
            for (int c = blk * 128; c < (blk + 1) * 128; c++) {
                float v = Float.intBitsToFloat(bits[c] << 16);
                byte want;
                if (Float.isNaN(v) || Float.isInfinite(v)) {
                    want = E4M3.NaN;
                } else if (inf) {
                    want = (byte) (v < 0 || (v == 0 && (bits[c] & 0x8000) != 0) ? 0x80 : 0x00);
                } else {
                    want = E4M3.fromFloat(ue8m0 ? v / scale : v * (448f / amax));
                }
                assertEquals(want, codes[c], "fp8 code of channel " + c + " (bf16 0x" + Integer.toHexString(bits[c] & 0xFFFF) + ")");
            }
        }
    }

    private static short[] rowOf(short[] all, int hidden) {
        return java.util.Arrays.copyOf(all, hidden);
    }
}
