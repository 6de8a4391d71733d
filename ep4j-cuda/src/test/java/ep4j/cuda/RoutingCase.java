package ep4j.cuda;

import ep4j.DType;
import ep4j.Tensor;
import java.util.SplittableRandom;

/**
 * A random MoE routing problem for the GPU-vs-CPU tests: per rank, bf16 tokens (exactly
 * representable, never all zero), top-k experts (distinct, with optional -1 slots), weights,
 * fp8 bytes with float32 scales, and two biases.
 */
record RoutingCase(int ranks, int experts, int hidden, int topk, int[] tokens, long seed, double emptySlots,
        boolean unbalanced) {

    static RoutingCase of(int ranks, int experts, int hidden, int topk, int tokensPerRank, long seed) {
        int[] t = new int[ranks];
        java.util.Arrays.fill(t, tokensPerRank);
        return new RoutingCase(ranks, experts, hidden, topk, t, seed, 0.0, false);
    }

    RoutingCase withEmptySlots(double fraction) {
        return new RoutingCase(ranks, experts, hidden, topk, tokens, seed, fraction, unbalanced);
    }

    RoutingCase unbalancedToRank0() {
        return new RoutingCase(ranks, experts, hidden, topk, tokens, seed, emptySlots, true);
    }

    RoutingCase withTokens(int... perRank) {
        return new RoutingCase(ranks, experts, hidden, topk, perRank, seed, emptySlots, unbalanced);
    }

    private SplittableRandom random(int rank, int stream) {
        return new SplittableRandom(seed * 1_000_003L + rank * 7919L + stream);
    }

    Tensor x(int rank) {
        int t = tokens[rank];
        SplittableRandom rnd = random(rank, 1);
        short[] bits = new short[t * hidden];
        for (int i = 0; i < bits.length; i++) {
            // Values in [-4, 4) with 8 significant bits: exact in bf16.
            float v = (rnd.nextInt(2048) - 1024) / 256.0f;
            bits[i] = (short) (Float.floatToRawIntBits(v) >>> 16);
        }
        if (bits.length > 0) {
            bits[0] = (short) (Float.floatToRawIntBits(1.5f) >>> 16);
        }
        return Tensor.ofBf16Bits(bits, t, hidden);
    }

    Tensor bias(int rank, int which) {
        int t = tokens[rank];
        SplittableRandom rnd = random(rank, 10 + which);
        short[] bits = new short[t * hidden];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) (Float.floatToRawIntBits((rnd.nextInt(256) - 128) / 64.0f) >>> 16);
        }
        return Tensor.ofBf16Bits(bits, t, hidden);
    }

    Tensor topkIdx(int rank) {
        int t = tokens[rank];
        SplittableRandom rnd = random(rank, 2);
        long[] idx = new long[t * topk];
        int perRank = experts / ranks;
        for (int i = 0; i < t; i++) {
            int chosen = 0;
            while (chosen < topk) {
                int pool = unbalanced ? perRank : experts;
                long e = rnd.nextInt(pool);
                boolean dup = false;
                for (int k = 0; k < chosen; k++) {
                    dup |= idx[i * topk + k] == e;
                }
                if (dup && pool >= topk) {
                    continue;
                }
                idx[i * topk + chosen++] = e;
            }
            for (int k = 0; k < topk; k++) {
                if (rnd.nextDouble() < emptySlots) {
                    idx[i * topk + k] = -1;
                }
            }
        }
        return Tensor.ofLongs(idx, t, topk);
    }

    Tensor topkWeights(int rank) {
        int t = tokens[rank];
        SplittableRandom rnd = random(rank, 3);
        float[] w = new float[t * topk];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextDouble();
        }
        return Tensor.ofFloats(w, t, topk);
    }

    /** fp8 bytes (any byte but the NaN codes) and float32 scales: dispatch carries them unchanged. */
    Tensor fp8(int rank) {
        int t = tokens[rank];
        SplittableRandom rnd = random(rank, 4);
        byte[] q = new byte[t * hidden];
        for (int i = 0; i < q.length; i++) {
            int b = rnd.nextInt(256);
            q[i] = (byte) ((b & 0x7F) == 0x7F ? 0x3C : b);
        }
        return Tensor.ofBytes(q, DType.FP8_E4M3, t, hidden);
    }

    Tensor scales(int rank) {
        int t = tokens[rank];
        SplittableRandom rnd = random(rank, 5);
        float[] s = new float[t * (hidden / 128)];
        for (int i = 0; i < s.length; i++) {
            s[i] = (float) (rnd.nextDouble() * 0.01 + 1e-4);
        }
        return Tensor.ofFloats(s, t, hidden / 128);
    }

    @Override
    public String toString() {
        return "R=" + ranks + " E=" + experts + " H=" + hidden + " K=" + topk + " T=" + java.util.Arrays.toString(tokens)
                + (emptySlots > 0 ? " empty=" + emptySlots : "") + (unbalanced ? " unbalanced" : "") + " seed=" + seed;
    }
}
