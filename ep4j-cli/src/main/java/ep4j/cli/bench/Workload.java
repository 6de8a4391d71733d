package ep4j.cli.bench;

import ep4j.DType;
import ep4j.EpGroup;
import ep4j.Tensor;
import ep4j.codec.Fp8Mode;
import ep4j.codec.Fp8Quantizer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * The inputs of one benchmark size on every rank, made as DeepEP's tests make them: per token,
 * random scores over all experts and the top-k of them (so k distinct experts), positive random
 * weights, and bf16 tokens (random bit patterns of values in ±[2^-7, 2), exact by construction).
 * Ranks generate in parallel, each from its own seeded stream, without boxing or per-element
 * allocation; the tensors are then uploaded to each rank's device. In a job, where this process
 * drives one rank, the other ranks' routing is drawn here too (tensors only for its own rank).
 */
final class Workload implements AutoCloseable {
    final int ranks;
    final int tokens;
    final int hidden;
    final int topk;
    final int experts;
    /** Per rank, {@code [T*K]}: the expert of every (token, slot). */
    final long[][] hostIdx;
    final Tensor[] x;
    final Tensor[] idx;
    final Tensor[] weights;
    /** fp8 e4m3 {@code [T, H]} and float32 scales {@code [T, H/128]}, quantized on the host (DESIGN 2.6); null when not asked for. */
    final Tensor[] xFp8;
    final Tensor[] scales;

    private Workload(int ranks, int tokens, int hidden, int topk, int experts) {
        this.ranks = ranks;
        this.tokens = tokens;
        this.hidden = hidden;
        this.topk = topk;
        this.experts = experts;
        this.hostIdx = new long[ranks][];
        this.x = new Tensor[ranks];
        this.idx = new Tensor[ranks];
        this.weights = new Tensor[ranks];
        this.xFp8 = new Tensor[ranks];
        this.scales = new Tensor[ranks];
    }

    static Workload generate(EpGroup group, int tokens, int hidden, int topk, int experts, long seed, boolean fp8) {
        Workload w = new Workload(group.size(), tokens, hidden, topk, experts);
        try {
            group.onEachRank(rank -> {
                SplittableRandom rnd = stream(seed, rank, tokens);
                long[] ids = new long[tokens * topk];
                routing(rnd, tokens, experts, topk, ids);
                w.hostIdx[rank] = ids;
                float[] wts = new float[tokens * topk];
                for (int i = 0; i < wts.length; i++) {
                    wts[i] = (float) (1.0 - rnd.nextDouble()); // (0, 1]
                }
                try (Tensor hx = Tensor.allocateHost(DType.BF16, tokens, hidden);
                     Tensor hi = Tensor.ofLongs(ids, tokens, topk);
                     Tensor hw = Tensor.ofFloats(wts, tokens, topk)) {
                    fillBf16(rnd, hx.segment(), (long) tokens * hidden);
                    w.x[rank] = group.upload(rank, hx);
                    w.idx[rank] = group.upload(rank, hi);
                    w.weights[rank] = group.upload(rank, hw);
                    if (fp8) {
                        try (Tensor q = Tensor.allocateHost(DType.FP8_E4M3, tokens, hidden);
                             Tensor s = Tensor.allocateHost(DType.FLOAT32, tokens, hidden / Fp8Quantizer.BLOCK)) {
                            Fp8Quantizer.quantize(hx.segment(), tokens, hidden, Fp8Mode.DEFAULT, q.segment(), s.segment());
                            w.xFp8[rank] = group.upload(rank, q);
                            w.scales[rank] = group.upload(rank, s);
                        }
                    }
                }
                return null;
            });
        } catch (RuntimeException | Error e) {
            w.close();
            throw e;
        }
        // Ranks other processes drive (a job): their routing only, drawn as they draw it (it is
        // the first draw of their stream), so that every process knows every rank's counts.
        for (int rank = 0; rank < w.ranks; rank++) {
            if (w.hostIdx[rank] == null) {
                long[] ids = new long[tokens * topk];
                routing(stream(seed, rank, tokens), tokens, experts, topk, ids);
                w.hostIdx[rank] = ids;
            }
        }
        return w;
    }

    /** The random stream of one rank at one size: its routing, then its weights and tokens. */
    private static SplittableRandom stream(long seed, int rank, int tokens) {
        return new SplittableRandom(seed * 1_000_003L + rank * 7919L + tokens);
    }

    /**
     * For each token, scores drawn at random for all {@code experts} and the {@code k} best
     * kept, best first (DeepEP: {@code torch.topk(scores, k)}): {@code k} distinct experts.
     */
    static void routing(SplittableRandom rnd, int tokens, int experts, int k, long[] out) {
        if (k > experts) {
            throw new IllegalArgumentException("topk " + k + " > experts " + experts);
        }
        float[] scores = new float[experts];
        for (int t = 0; t < tokens; t++) {
            for (int e = 0; e < experts; e++) {
                scores[e] = rnd.nextFloat();
            }
            for (int j = 0; j < k; j++) {
                int best = 0;
                for (int e = 1; e < experts; e++) {
                    if (scores[e] > scores[best]) {
                        best = e;
                    }
                }
                out[t * k + j] = best;
                scores[best] = -1f;
            }
        }
    }

    /** Fills {@code count} bf16 values: random sign, exponent 2^-7..2^0, 7 random mantissa bits. */
    static void fillBf16(SplittableRandom rnd, MemorySegment seg, long count) {
        short[] chunk = new short[1 << 16];
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(chunk.length, count - done);
            for (int i = 0; i < n; i += 4) {
                long r = rnd.nextLong();
                for (int j = 0; j < 4 && i + j < n; j++) {
                    int v = (int) (r >>> (16 * j)) & 0xFFFF;
                    chunk[i + j] = (short) ((v & 0x8000) | ((120 + ((v >>> 7) & 7)) << 7) | (v & 0x7F));
                }
            }
            MemorySegment.copy(chunk, 0, seg, ValueLayout.JAVA_SHORT_UNALIGNED, done * 2, n);
            done += n;
        }
    }

    /** {@code [dst][src]}: tokens rank src sends to rank dst (once per rank, however many of its experts live there). */
    long[][] tokenCounts() {
        int local = experts / ranks;
        long[][] out = new long[ranks][ranks];
        boolean[] seen = new boolean[ranks];
        for (int src = 0; src < ranks; src++) {
            long[] ids = hostIdx[src];
            for (int t = 0; t < tokens; t++) {
                java.util.Arrays.fill(seen, false);
                for (int j = 0; j < topk; j++) {
                    long e = ids[t * topk + j];
                    if (e >= 0 && !seen[(int) (e / local)]) {
                        seen[(int) (e / local)] = true;
                        out[(int) (e / local)][src]++;
                    }
                }
            }
        }
        return out;
    }

    /** {@code [dst][src]}: (token, expert) pairs rank src sends to rank dst (low-latency rows). */
    long[][] pairCounts() {
        int local = experts / ranks;
        long[][] out = new long[ranks][ranks];
        for (int src = 0; src < ranks; src++) {
            for (long e : hostIdx[src]) {
                if (e >= 0) {
                    out[(int) (e / local)][src]++;
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        for (Tensor[] ts : new Tensor[][] {x, idx, weights, xFp8, scales}) {
            for (Tensor t : ts) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }
}
