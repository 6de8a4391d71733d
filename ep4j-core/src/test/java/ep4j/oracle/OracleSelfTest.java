package ep4j.oracle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ep4j.codec.BFloat16;
import ep4j.codec.E4M3;
import ep4j.codec.Fp8Mode;
import ep4j.codec.Fp8Quantizer;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The oracle checked by hand on a tiny case (so that it is not just "whatever the backend does"),
 * and its number formats checked against the codec (two independent implementations agreeing).
 */
public class OracleSelfTest {

    /** R=2, E=4 (L=2), K=2, H=8; rank 0 has 3 tokens, rank 1 has 2. Row values are v = 4i + t + 1. */
    public static Cases.Case handCase() {
        int h = 8;
        long[][] idx = {{0, 3, 1, -1, 2, 2}, {3, 2, -1, -1}};
        float[][] w = {{0.5f, 0.25f, 1f, 2f, 0.125f, 0.75f}, {1.5f, 0.5f, 3f, 4f}};
        int[] tokens = {3, 2};
        short[][] x = new short[2][];
        for (int i = 0; i < 2; i++) {
            x[i] = new short[tokens[i] * h];
            for (int t = 0; t < tokens[i]; t++) {
                for (int c = 0; c < h; c++) {
                    x[i][t * h + c] = (short) (Float.floatToRawIntBits(4 * i + t + 1) >>> 16);
                }
            }
        }
        return new Cases.Case(2, 4, h, 2, tokens, x, idx, w, "hand case");
    }

    @Test
    void handComputedDispatch() {
        Cases.Case c = handCase();
        Oracle.Layout l0 = Oracle.layout(c.topkIdx[0], 3, 2, 2, 4);
        assertArrayEquals(new int[] {2, 2}, l0.tokensPerRank());
        assertArrayEquals(new int[] {1, 1, 1, 1}, l0.tokensPerExpert());
        assertArrayEquals(new byte[] {1, 1, 1, 0, 0, 1}, l0.isTokenInRank());

        Oracle.Dispatch[] d = Oracle.dispatch(c, 1, 0);
        assertArrayEquals(new int[] {0, 2, 2}, d[0].sourceRankOffsets());
        assertArrayEquals(new int[] {0, 1}, d[0].sourceToken());
        assertArrayEquals(new long[] {0, -1, 1, -1}, d[0].topkIdx());
        assertArrayEquals(new float[] {0.5f, 0f, 1f, 0f}, d[0].topkWeights());
        assertArrayEquals(new int[] {1, 1}, d[0].tokensPerExpert());
        assertArrayEquals(new int[] {0, 2, 3}, d[1].sourceRankOffsets());
        assertArrayEquals(new int[] {0, 2, 0}, d[1].sourceToken());
        assertArrayEquals(new long[] {-1, 1, 0, 0, 1, 0}, d[1].topkIdx());
        assertArrayEquals(new float[] {0f, 0.25f, 0.125f, 0.75f, 1.5f, 0.5f}, d[1].topkWeights());
        assertArrayEquals(new int[] {2, 2}, d[1].tokensPerExpert());
        assertArrayEquals(new int[] {0, 0, 1, -1, -1, 1}, d[0].sendRow());
        assertArrayEquals(new int[] {-1, 2, -1, -1}, d[1].sendRow());
        assertEquals(1f, Oracle.bf16ToFloat(Oracle.shorts(d[0].x())[0]));
        assertEquals(3f, Oracle.bf16ToFloat(Oracle.shorts(d[1].x())[8]));
        assertEquals(5f, Oracle.bf16ToFloat(Oracle.shorts(d[1].x())[16]));
        assertArrayEquals(new int[] {2, 2}, Oracle.dispatch(c, 2, 0)[0].tokensPerExpert());
        assertArrayEquals(new int[] {3, 3}, Oracle.dispatch(c, 3, 0)[1].tokensPerExpert());

        // Combine of the received rows themselves: x times the ranks reached; token 1 of rank 1 went nowhere.
        short[][] y = {Oracle.shorts(d[0].x()), Oracle.shorts(d[1].x())};
        Oracle.Combine[] cb = Oracle.combine(c, d, y, new float[][] {d[0].topkWeights(), d[1].topkWeights()}, null, null);
        assertEquals(2f, Oracle.bf16ToFloat(cb[0].x()[0]));
        assertEquals(2f, Oracle.bf16ToFloat(cb[0].x()[8]));
        assertEquals(3f, Oracle.bf16ToFloat(cb[0].x()[16]));
        assertEquals(5f, Oracle.bf16ToFloat(cb[1].x()[0]));
        assertEquals(0, cb[1].x()[8]);
        assertArrayEquals(new float[] {0.5f, 0.25f, 1f, 0f, 0.125f, 0.75f}, cb[0].topkWeights());
        assertArrayEquals(new float[] {1.5f, 0.5f, 0f, 0f}, cb[1].topkWeights());
    }

    @Test
    void handComputedLowLatency() {
        Cases.Case c = handCase();
        Oracle.LowLatencyDispatch[] d = Oracle.lowLatencyDispatch(c, 4, null);
        assertArrayEquals(new int[] {1, 1}, d[0].recvCount());
        assertArrayEquals(new int[] {2, 2}, d[1].recvCount());
        assertEquals(2, d[1].sourceToken()[0]);
        assertEquals(0, d[1].sourceToken()[1]);
        assertEquals(1, d[1].sourceRank()[1]);
        assertArrayEquals(new int[] {0, 1, 1, 1, 0, 1, 1, 1}, d[1].ranges());
        assertArrayEquals(new int[] {0, 1, 1, 0, 0, 1, 1, 0}, d[0].ranges());
        // y = 1 everywhere: out[t] = sum of the weights of its non -1 slots (the duplicate counts twice).
        short[][] y = new short[2][2 * 8 * 8];
        java.util.Arrays.fill(y[0], (short) 0x3F80);
        java.util.Arrays.fill(y[1], (short) 0x3F80);
        short[][] out = Oracle.lowLatencyCombine(c, d, y);
        assertEquals(0.75f, Oracle.bf16ToFloat(out[0][0]));
        assertEquals(1f, Oracle.bf16ToFloat(out[0][8]));
        assertEquals(0.875f, Oracle.bf16ToFloat(out[0][16]));
        assertEquals(2f, Oracle.bf16ToFloat(out[1][0]));
        assertEquals(0, out[1][8]);
    }

    @Test
    void numberFormatsAgreeWithTheCodec() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int i = 0; i < 200_000; i++) {
            float f = i < 100_000 ? Float.intBitsToFloat(rnd.nextInt()) : (float) (rnd.nextDouble() * 1000 - 500);
            if (Float.isNaN(f)) {
                continue;
            }
            assertEquals(BFloat16.fromFloat(f), Oracle.bf16(f), "bf16 of " + f);
            if (i % 4 == 0) {
                assertEquals(E4M3.fromFloat(f), Oracle.e4m3(f), "e4m3 of " + f);
            }
        }
        assertEquals(0x7E, Oracle.e4m3(1e9f));
        assertEquals((byte) 0x80, Oracle.e4m3(-0f));
        assertEquals(0x7FFF, Oracle.bf16(Float.NaN));
    }

    @Test
    void quantizationAgreesWithTheCodec() {
        int h = 640;
        for (Oracle.Fp8 mode : Oracle.Fp8.values()) {
            Fp8Mode m = Fp8Mode.valueOf(mode.name());
            Cases.Case c = Cases.options().ranks(1).experts(1).topk(1).tokens(6).hidden(h).seed(mode.ordinal()).generate();
            byte[][] want = Oracle.quantize(c.x[0], 6, h, mode);
            MemorySegment q = MemorySegment.ofArray(new byte[6 * h]);
            MemorySegment s = MemorySegment.ofArray(new byte[6 * Oracle.scaleRowBytes(h, mode)]);
            Fp8Quantizer.quantize(MemorySegment.ofArray(c.xBytes(0)), 6, h, m, q, s);
            assertArrayEquals(want[0], q.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), mode.name());
            assertArrayEquals(want[1], s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), mode.name());
        }
    }
}
