package ep4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DispatchArgs;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;

/** Properties of dispatch + combine over random routings (no oracle: invariants of DESIGN 2.2, 2.3 and 5). */
class RoutingProperties {

    record Routed(byte[] inRank, int[] sendRow, int[] sourceToken, int[] offsets, long rows, short[] combined) {
    }

    private static Cases.Case generate(int ranks, int local, int topk, int maxTokens, double minusOne, boolean skew,
            long seed) {
        int[] tokens = new int[ranks];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        for (int r = 0; r < ranks; r++) {
            tokens[r] = rnd.nextInt(maxTokens + 1);
        }
        Cases.Options o = Cases.options().ranks(ranks).experts(local * ranks).topk(topk).tokens(tokens).hidden(64)
                .minusOne(minusOne).smallIntegers(true).seed(seed);
        if (skew) {
            o.unbalanced(Math.floorMod(seed, ranks));
        }
        return o.generate();
    }

    private static List<Routed> dispatchAndCombine(Cases.Case c) {
        return Host.run(c.ranks, BufferSpec.normal(c.hidden, Math.max(1, c.maxTokens())), (r, buf) -> {
            try (Tensor x = c.x(r);
                    Tensor idx = c.topkIdx(r);
                    DispatchLayout layout = buf.layout(idx, c.experts);
                    Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, c.topkWeights(r)).layout(layout));
                    Combined cb = buf.combine(CombineArgs.of(d.x(), d.handle()))) {
                DispatchHandle h = d.handle();
                return new Routed(Host.bytes(h.isTokenInRank()), Host.ints(h.sendRow()), Host.ints(h.sourceToken()),
                        Host.ints(h.sourceRankOffsets()), d.numRows(), Host.shorts(cb.x()));
            }
        });
    }

    /** Every (token, destination) pair is one received row, and that row names the token as its source. */
    @Property(tries = 40)
    void everyDispatchedRowComesBackOnce(@ForAll @IntRange(min = 1, max = 5) int ranks,
            @ForAll @IntRange(min = 1, max = 3) int local, @ForAll @IntRange(min = 1, max = 4) int topk,
            @ForAll @IntRange(min = 0, max = 12) int maxTokens, @ForAll @DoubleRange(min = 0, max = 0.6) double minusOne,
            @ForAll boolean skew, @ForAll long seed) {
        Cases.Case c = generate(ranks, local, topk, maxTokens, minusOne, skew, seed);
        List<Routed> got = dispatchAndCombine(c);
        int[] seen = new int[ranks];
        for (int i = 0; i < ranks; i++) {
            Routed src = got.get(i);
            for (int t = 0; t < c.tokens[i]; t++) {
                for (int j = 0; j < ranks; j++) {
                    int row = src.sendRow()[t * ranks + j];
                    if (src.inRank()[t * ranks + j] == 0) {
                        assertEquals(-1, row, "token " + t + " of rank " + i + " is not for rank " + j);
                        continue;
                    }
                    seen[j]++;
                    Routed dst = got.get(j);
                    assertTrue(row >= dst.offsets()[i] && row < dst.offsets()[i + 1],
                            "row " + row + " of rank " + j + " lies in the rows of source " + i);
                    assertEquals(t, dst.sourceToken()[row]);
                }
            }
        }
        for (int j = 0; j < ranks; j++) {
            Routed dst = got.get(j);
            assertEquals(seen[j], dst.rows(), "rows received on rank " + j);
            assertEquals(dst.rows(), dst.offsets()[ranks]);
            assertEquals(0, dst.offsets()[0]);
            for (int i = 0; i < ranks; i++) {
                for (int row = dst.offsets()[i]; row < dst.offsets()[i + 1]; row++) {
                    int t = dst.sourceToken()[row];
                    assertEquals(row, got.get(i).sendRow()[t * ranks + j], "row " + row + " of rank " + j);
                    if (row > dst.offsets()[i]) {
                        assertTrue(dst.sourceToken()[row - 1] < t, "source tokens ascend within a source rank");
                    }
                }
            }
        }
    }

    /** Combining the dispatched rows themselves gives x times the number of ranks each token reached. */
    @Property(tries = 40)
    void combineOfDispatchIsXTimesRanksReached(@ForAll @IntRange(min = 1, max = 5) int ranks,
            @ForAll @IntRange(min = 1, max = 3) int local, @ForAll @IntRange(min = 1, max = 4) int topk,
            @ForAll @IntRange(min = 0, max = 12) int maxTokens, @ForAll @DoubleRange(min = 0, max = 0.6) double minusOne,
            @ForAll boolean skew, @ForAll long seed) {
        Cases.Case c = generate(ranks, local, topk, maxTokens, minusOne, skew, seed);
        List<Routed> got = dispatchAndCombine(c);
        for (int i = 0; i < ranks; i++) {
            short[] want = new short[c.tokens[i] * c.hidden];
            for (int t = 0; t < c.tokens[i]; t++) {
                int reached = 0;
                for (int j = 0; j < ranks; j++) {
                    reached += got.get(i).inRank()[t * ranks + j];
                }
                for (int h = 0; h < c.hidden; h++) {
                    // acc starts at +0f: a token sent nowhere comes back as +0, not as x * 0 (which may be -0).
                    float v = 0f + Float.intBitsToFloat(c.x[i][t * c.hidden + h] << 16) * reached;
                    want[t * c.hidden + h] = (short) (Float.floatToRawIntBits(v) >>> 16);
                }
            }
            assertArrayEquals(want, got.get(i).combined(), "rank " + i + " of " + c);
        }
    }
}
