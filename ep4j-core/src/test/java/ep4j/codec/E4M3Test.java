package ep4j.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class E4M3Test {

    private static void assertCode(int expected, float input) {
        byte actual = E4M3.fromFloat(input);
        if (actual != (byte) expected) {
            fail(String.format("fromFloat(%s = 0x%08X) = 0x%02X, expected 0x%02X", input,
                    Float.floatToRawIntBits(input), actual & 0xFF, expected & 0xFF));
        }
    }

    private static void assertMatchesOracle(float x) {
        assertCode(CodecOracle.e4m3FromFloat(x), x);
    }

    @Test
    void everyCodeDecodesExactlyAndReencodesToItself() {
        for (int code = 0; code < 256; code++) {
            float value = E4M3.toFloat((byte) code);
            boolean nan = code == 0x7F || code == 0xFF;
            assertEquals(nan, E4M3.isNaN((byte) code));
            if (nan) {
                assertTrue(Float.isNaN(value));
                assertCode(0x7F, value);
            } else {
                assertEquals(CodecOracle.e4m3Value(code), value, 0.0, "value of 0x" + Integer.toHexString(code));
                assertEquals((code & 0x80) != 0, Math.copySign(1f, value) < 0, "sign of 0x" + Integer.toHexString(code));
                assertCode(code, value);
            }
        }
    }

    @Test
    void everyMidpointBetweenAdjacentCodesRoundsToTheEvenCode() {
        for (int code = 0; code < 0x7E; code++) {
            double lo = CodecOracle.e4m3Value(code);
            double hi = CodecOracle.e4m3Value(code + 1);
            assertTrue(lo < hi);
            // Two adjacent E4M3 values have at most 4 significant bits, their midpoint 5: exact in float.
            float mid = (float) ((lo + hi) / 2);
            assertEquals((lo + hi) / 2, mid, 0.0);
            int even = (code & 1) == 0 ? code : code + 1;
            assertCode(even, mid);
            assertCode(0x80 | even, -mid);
            assertCode(code, Math.nextDown(mid));
            assertCode(code + 1, Math.nextUp(mid));
            assertCode(0x80 | code, -Math.nextDown(mid));
            assertCode(0x80 | (code + 1), -Math.nextUp(mid));
        }
    }

    @Test
    void edgeValues() {
        assertCode(0x00, 0f);
        assertCode(0x80, -0f);
        assertCode(0x7F, Float.NaN);
        assertCode(0x7F, Float.intBitsToFloat(0xFFC0_0000));
        assertCode(0x7F, Float.intBitsToFloat(0x7F80_0001));
        assertCode(0x7E, 448f);
        assertCode(0xFE, -448f);
        // Past the max everything saturates: 464 is the tie between 448 and the would-be 480.
        assertCode(0x7E, Math.nextDown(464f));
        assertCode(0x7E, 464f);
        assertCode(0x7E, Math.nextUp(464f));
        assertCode(0x7E, 480f);
        assertCode(0xFE, -480f);
        assertCode(0x7E, 1e30f);
        assertCode(0xFE, -1e30f);
        assertCode(0x7E, Float.MAX_VALUE);
        assertCode(0x7E, Float.POSITIVE_INFINITY);
        assertCode(0xFE, Float.NEGATIVE_INFINITY);
        assertCode(0x7D, 416f);
        assertCode(0x7E, 432f);
        assertCode(0x7C, 400f);
        // Subnormals: smallest 2^-9, and the tie at half of it goes to zero with the sign kept.
        assertCode(0x01, 0x1p-9f);
        assertCode(0x81, -0x1p-9f);
        assertCode(0x00, 0x1p-10f);
        assertCode(0x80, -0x1p-10f);
        assertCode(0x01, Math.nextUp(0x1p-10f));
        assertCode(0x00, Math.nextDown(0x1p-10f));
        assertCode(0x00, Float.MIN_VALUE);
        assertCode(0x80, -Float.MIN_VALUE);
        assertCode(0x02, 1.5f * 0x1p-9f);
        assertCode(0x02, 2.5f * 0x1p-9f);
        assertCode(0x07, 7f * 0x1p-9f);
        // The subnormal/normal boundary: 7.5 * 2^-9 ties between 0x07 and 0x08 (2^-6) and goes up.
        assertCode(0x08, 7.5f * 0x1p-9f);
        assertCode(0x07, Math.nextDown(7.5f * 0x1p-9f));
        assertCode(0x08, 0x1p-6f);
        assertCode(0x08, Math.nextDown(0x1p-6f));
        assertCode(0x09, 0x1p-6f * 1.125f);
        assertCode(0x08, 0x1p-6f * 1.0625f);
        assertCode(0x38, 1f);
        assertCode(0xB8, -1f);
        assertEquals(448f, E4M3.toFloat((byte) 0x7E));
        assertEquals(-448f, E4M3.toFloat((byte) 0xFE));
        assertEquals(0x1p-9f, E4M3.toFloat((byte) 0x01));
        assertEquals(0x1p-6f, E4M3.toFloat((byte) 0x08));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(E4M3.toFloat((byte) 0x80)));
        assertFalse(E4M3.isNaN((byte) 0x7E));
    }

    @Test
    void agreesWithOracleOnFloatsAroundEveryCodeAndMidpoint() {
        for (int code = 0; code <= 0x7E; code++) {
            float value = (float) CodecOracle.e4m3Value(code);
            float mid = code < 0x7E ? (float) ((CodecOracle.e4m3Value(code) + CodecOracle.e4m3Value(code + 1)) / 2) : 464f;
            for (float center : new float[] {value, mid}) {
                int bits = Float.floatToRawIntBits(center);
                for (int d = -64; d <= 64; d++) {
                    int b = bits + d;
                    if (b >= 0) {
                        assertMatchesOracle(Float.intBitsToFloat(b));
                        assertMatchesOracle(-Float.intBitsToFloat(b));
                    }
                }
            }
        }
    }

    @Test
    void agreesWithOracleOnADenseSweepOfMinus512To512() {
        // Every 61st float (by bit pattern; 61 is odd, so all low-bit residues occur) in [0, 512],
        // both signs: about 37 million floats covering every binade the codes live in.
        int top = Float.floatToRawIntBits(512f);
        for (int bits = 0; bits <= top; bits += 61) {
            float x = Float.intBitsToFloat(bits);
            assertMatchesOracle(x);
            assertMatchesOracle(-x);
        }
        // And a uniform grid in value, step 2^-12, which hits every code and midpoint from 2^-12 up.
        for (int k = -512 * 4096; k <= 512 * 4096; k++) {
            assertMatchesOracle(k * 0x1p-12f);
        }
    }

    @Test
    void agreesWithOracleOnMillionsOfRandomFloats() {
        SplittableRandom random = new SplittableRandom(0xE4A3);
        for (int i = 0; i < 2_000_000; i++) {
            assertMatchesOracle(Float.intBitsToFloat(random.nextInt()));
            // Log-uniform magnitudes from 2^-14 to 2^10, where all the codes are.
            float x = (float) (Math.pow(2, random.nextDouble(-14, 10)) * (random.nextBoolean() ? 1 : -1));
            assertMatchesOracle(x);
        }
    }

    @Provide
    Arbitrary<Float> anyFloat() {
        return Arbitraries.integers().between(Integer.MIN_VALUE, Integer.MAX_VALUE).map(Float::intBitsToFloat);
    }

    @Provide
    Arbitrary<Float> codeRange() {
        // Bit patterns of [2^-12, 2^9] with either sign: every binade from below the subnormals to past 448.
        int lo = Float.floatToRawIntBits(0x1p-12f);
        int hi = Float.floatToRawIntBits(0x1p9f);
        return Arbitraries.integers().between(lo, hi).map(Float::intBitsToFloat)
                .flatMap(x -> Arbitraries.of(x, -x));
    }

    @Property(tries = 300_000)
    void agreesWithOracleOnAnyFloat(@ForAll("anyFloat") float x) {
        assertMatchesOracle(x);
    }

    @Property(tries = 300_000)
    void agreesWithOracleInTheCodeRange(@ForAll("codeRange") float x) {
        assertMatchesOracle(x);
    }
}
