package ep4j.fuzz;

import static ep4j.fuzz.Fixture.oneLine;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpException;
import ep4j.EpGroup;
import ep4j.EpTimeoutException;
import ep4j.LowLatencyDispatchArgs;
import ep4j.Tensor;
import ep4j.codec.Fp8Mode;
import ep4j.codec.Fp8Quantizer;

/**
 * Ranks that disagree on a collective's arguments: one rank with another numExperts, another
 * top-k, fp8 where the others send bf16 (normal or low latency), or another hidden size (its
 * buffer is another allocation, so its peers never come). Each rank runs on a plain thread of
 * its own (not {@code onEachRank}, whose abort would end the others): every rank must get an
 * exception by itself, "collective mismatch" naming both calls or a timeout naming the peer,
 * within the buffers' timeout; none hangs.
 */
final class Disagreement {
    private Disagreement() {
    }

    static void ranksDisagree(long seed) {
        Fixture f = new Fixture(seed, true, 2);
        int variant = f.rnd.nextInt(5);
        int odd = f.rnd.nextInt(f.ranks);
        Throwable[] failures = assertTimeoutPreemptively(Fixture.BOUND, () -> {
            try (EpGroup g = EpGroup.cpu(f.ranks);
                 EpBuffers b = g.allocate(f.spec());
                 EpBuffers wide = g.allocate(BufferSpec.normal(f.hidden + 128, f.maxTokens).timeout(Fixture.TIMEOUT))) {
                Throwable[] seen = new Throwable[f.ranks];
                Thread[] threads = new Thread[f.ranks];
                for (int r = 0; r < f.ranks; r++) {
                    int rank = r;
                    threads[r] = new Thread(() -> {
                        try {
                            call(f, variant, rank, rank == odd, rank == odd && variant == 4 ? wide.rank(rank) : b.rank(rank));
                        } catch (Throwable t) {
                            seen[rank] = t;
                        }
                    });
                    threads[r].start();
                }
                for (Thread t : threads) {
                    t.join();
                }
                return seen;
            }
        });
        for (int r = 0; r < f.ranks; r++) {
            Throwable t = failures[r];
            assertNotNull(t, "rank " + r + " must fail too (variant " + variant + ", odd rank " + odd + ")");
            assertInstanceOf(EpException.class, t, "rank " + r);
            oneLine(t);
            if (variant == 4) {
                assertInstanceOf(EpTimeoutException.class, t, t.getMessage());
                assertTrue(t.getMessage().contains("on rank " + r + " waiting for peer "), t.getMessage());
            } else {
                assertTrue(t.getMessage().startsWith("collective mismatch on rank " + r + ": call #"), t.getMessage());
                assertTrue(t.getMessage().contains(" here but ") && t.getMessage().contains(" on rank "), t.getMessage());
            }
        }
    }

    /** Rank {@code r}'s call; the odd rank's differs as {@code variant} says. */
    private static void call(Fixture f, int variant, int r, boolean odd, EpBuffer buf) {
        int t = f.tokens[r];
        Tensor x = f.x(r);
        Tensor idx = f.idx(r);
        switch (variant) {
            case 0 -> { // another numExperts
                int experts = odd ? f.experts + f.ranks : f.experts;
                try (DispatchLayout layout = buf.layout(idx, experts)) {
                    buf.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout)).close();
                }
            }
            case 1 -> { // another top-k
                int k = odd ? f.topk + 1 : f.topk;
                Tensor kIdx = Tensor.ofLongs(new long[t * k], t, k);
                try (DispatchLayout layout = buf.layout(kIdx, f.experts)) {
                    buf.dispatch(DispatchArgs.of(x).topk(kIdx, null).layout(layout)).close();
                }
            }
            case 2 -> { // fp8 here, bf16 there
                try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                    DispatchArgs args = DispatchArgs.of(x);
                    if (odd) {
                        Tensor q = Tensor.allocateHost(DType.FP8_E4M3, t, f.hidden);
                        Tensor s = Tensor.allocateHost(DType.FLOAT32, t, f.hidden / 128);
                        Fp8Quantizer.quantize(x.segment(), t, f.hidden, Fp8Mode.DEFAULT, q.segment(), s.segment());
                        args = DispatchArgs.fp8(q, s);
                    }
                    buf.dispatch(args.topk(idx, null).layout(layout)).close();
                }
            }
            case 3 -> { // low latency: fp8 here, bf16 there
                LowLatencyDispatchArgs args = LowLatencyDispatchArgs.of(x, idx, f.experts);
                if (odd) {
                    args.fp8();
                }
                buf.lowLatencyDispatch(args).close();
            }
            default -> { // another hidden: the odd rank's buffer has hidden + 128
                Tensor wideX = odd ? Tensor.allocateHost(DType.BF16, t, f.hidden + 128) : x;
                try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                    buf.dispatch(DispatchArgs.of(wideX).topk(idx, null).layout(layout)).close();
                }
            }
        }
    }
}
