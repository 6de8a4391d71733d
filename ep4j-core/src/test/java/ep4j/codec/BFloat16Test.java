package ep4j.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class BFloat16Test {

    private static void assertBf16(int expected, float input) {
        short actual = BFloat16.fromFloat(input);
        if (actual != (short) expected) {
            fail(String.format("fromFloat(%s = 0x%08X) = 0x%04X, expected 0x%04X", input,
                    Float.floatToRawIntBits(input), actual & 0xFFFF, expected & 0xFFFF));
        }
    }

    private static void assertMatchesOracle(int bits) {
        float f = Float.intBitsToFloat(bits);
        assertBf16(CodecOracle.bf16FromFloat(f), f);
    }

    @Test
    void everyBf16WidensExactlyAndRoundsBackToItself() {
        for (int b = 0; b < 0x10000; b++) {
            short bf16 = (short) b;
            float f = BFloat16.toFloat(bf16);
            assertEquals(b << 16, Float.floatToRawIntBits(f), "toFloat keeps every bit");
            boolean nan = (b & 0x7F80) == 0x7F80 && (b & 0x7F) != 0;
            if (nan) {
                assertTrue(Float.isNaN(f));
                assertBf16(0x7FFF, f);
                assertEquals(b == 0x7FFF, BFloat16.isExactlyRepresentable(f));
            } else {
                assertEquals(CodecOracle.bf16Value(bf16), f, 0.0, "value of 0x" + Integer.toHexString(b));
                assertBf16(b, f);
                assertTrue(BFloat16.isExactlyRepresentable(f));
            }
        }
    }

    @Test
    void edgeCases() {
        assertBf16(0x0000, 0.0f);
        assertBf16(0x8000, -0.0f);
        assertBf16(0x3F80, 1.0f);
        assertBf16(0xBF80, -1.0f);
        assertBf16(0x7F80, Float.POSITIVE_INFINITY);
        assertBf16(0xFF80, Float.NEGATIVE_INFINITY);
        // NaN policy: canonical positive 0x7FFF whatever the sign and payload.
        assertBf16(0x7FFF, Float.NaN);
        assertBf16(0x7FFF, Float.intBitsToFloat(0x7F80_0001));
        assertBf16(0x7FFF, Float.intBitsToFloat(0xFFC0_0000));
        assertBf16(0x7FFF, Float.intBitsToFloat(0xFFFF_FFFF));
        assertBf16(0x7FFF, Float.intBitsToFloat(0x7FFF_FFFF));
        // Overflow: below the midpoint to 2^128 stays at the max, at it (tie, odd max) goes to infinity.
        assertBf16(0x7F7F, Float.intBitsToFloat(0x7F7F_7FFF));
        assertBf16(0x7F80, Float.intBitsToFloat(0x7F7F_8000));
        assertBf16(0x7F80, Float.MAX_VALUE);
        assertBf16(0xFF80, -Float.MAX_VALUE);
        // Ties to even, in both directions.
        assertBf16(0x3F80, Float.intBitsToFloat(0x3F80_8000));
        assertBf16(0x3F82, Float.intBitsToFloat(0x3F81_8000));
        assertBf16(0x3F81, Float.intBitsToFloat(0x3F80_8001));
        assertBf16(0x3F81, Float.intBitsToFloat(0x3F81_7FFF));
        // Subnormals are kept, not flushed; the smallest float subnormal rounds to a signed zero.
        assertBf16(0x0001, Float.intBitsToFloat(0x0001_0000));
        assertBf16(0x0000, Float.intBitsToFloat(0x0000_8000));
        assertBf16(0x0002, Float.intBitsToFloat(0x0001_8000));
        assertBf16(0x0001, Float.intBitsToFloat(0x0000_8001));
        assertBf16(0x0000, Float.MIN_VALUE);
        assertBf16(0x8000, -Float.MIN_VALUE);
        // Rounding up out of the subnormals into the smallest normal.
        assertBf16(0x0080, Float.intBitsToFloat(0x007F_8000));
    }

    @Test
    void isExactlyRepresentable() {
        assertTrue(BFloat16.isExactlyRepresentable(1.0f));
        assertTrue(BFloat16.isExactlyRepresentable(-0.0f));
        assertTrue(BFloat16.isExactlyRepresentable(Float.NEGATIVE_INFINITY));
        assertFalse(BFloat16.isExactlyRepresentable(Math.nextUp(1.0f)));
        assertFalse(BFloat16.isExactlyRepresentable(Float.MIN_VALUE));
        assertFalse(BFloat16.isExactlyRepresentable(0.1f));
        assertFalse(BFloat16.isExactlyRepresentable(Float.NaN), "0x7FC00000 comes back as 0x7FFF0000");
        assertTrue(BFloat16.isExactlyRepresentable(Float.intBitsToFloat(0x7FFF_0000)));
    }

    @Test
    void agreesWithOracleAroundEveryRoundingBoundary() {
        for (int hi = 0; hi < 0x10000; hi++) {
            for (int lo : new int[] {0x0000, 0x0001, 0x7FFE, 0x7FFF, 0x8000, 0x8001, 0xFFFF}) {
                int bits = hi << 16 | lo;
                if (!Float.isNaN(Float.intBitsToFloat(bits))) {
                    assertMatchesOracle(bits);
                }
            }
        }
    }

    @Test
    void agreesWithOracleOnAStridedSweepOfAllFloats() {
        // 4099 is prime, so the low 16 bits of the samples take every value.
        for (long bits = Integer.MIN_VALUE; bits <= Integer.MAX_VALUE; bits += 4099) {
            assertMatchesOracle((int) bits);
        }
    }

    @Provide
    Arbitrary<Integer> anyFloatBits() {
        return Arbitraries.integers().between(Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    @Property(tries = 100_000)
    void agreesWithOracle(@ForAll("anyFloatBits") int bits) {
        assertMatchesOracle(bits);
    }

    @Test
    void bulkConversionIsLittleEndianUnalignedAndMatchesScalar() {
        try (Arena arena = Arena.ofConfined()) {
            int n = 1001;
            MemorySegment f32 = arena.allocate(4L * n + 3);
            MemorySegment bf16 = arena.allocate(2L * n + 1);
            MemorySegment back = arena.allocate(4L * n + 1);
            java.util.SplittableRandom random = new java.util.SplittableRandom(7);
            float[] values = new float[n];
            for (int i = 0; i < n; i++) {
                values[i] = Float.intBitsToFloat(random.nextInt());
                f32.set(Segments.F32_LE, 3 + 4L * i, values[i]);
            }
            BFloat16.fromFloat(f32, 3, bf16, 1, n);
            BFloat16.toFloat(bf16, 1, back, 1, n);
            for (int i = 0; i < n; i++) {
                short expected = BFloat16.fromFloat(values[i]);
                int lowByte = bf16.get(ValueLayout.JAVA_BYTE, 1 + 2L * i) & 0xFF;
                int highByte = bf16.get(ValueLayout.JAVA_BYTE, 2 + 2L * i) & 0xFF;
                assertEquals(expected & 0xFFFF, highByte << 8 | lowByte, "little-endian bf16 " + i);
                assertEquals((expected & 0xFFFF) << 16, Float.floatToRawIntBits(back.get(Segments.F32_LE, 1 + 4L * i)));
            }

            MemorySegment one = arena.allocate(4);
            one.set(Segments.F32_LE, 0, 1.0f);
            MemorySegment out = arena.allocate(2);
            BFloat16.fromFloat(one, 1, out);
            assertArrayEquals(new byte[] {(byte) 0x80, 0x3F}, out.toArray(ValueLayout.JAVA_BYTE));
            MemorySegment widened = arena.allocate(4);
            BFloat16.toFloat(out, 1, widened);
            assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3F}, widened.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void bulkConversionRejectsBadArgumentsBeforeWriting() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(16);
            MemorySegment dst = arena.allocate(7);
            dst.fill((byte) 0x5A);
            assertThrows(InvalidArgumentException.class, () -> BFloat16.fromFloat(src, 4, dst));
            assertThrows(InvalidArgumentException.class, () -> BFloat16.toFloat(src, 0, dst, 0, 2));
            assertThrows(InvalidArgumentException.class, () -> BFloat16.toFloat(src, -1, dst));
            assertThrows(InvalidArgumentException.class, () -> BFloat16.toFloat(src, -2, dst, 0, 1));
            assertThrows(InvalidArgumentException.class, () -> BFloat16.toFloat(src, 0, dst.asReadOnly(), 0, 1));
            assertThrows(InvalidArgumentException.class, () -> BFloat16.toFloat(src, 0, src, 2, 2));
            assertThrows(InvalidArgumentException.class, () -> BFloat16.fromFloat(src, 0, src, 8, 4));
            for (byte b : dst.toArray(ValueLayout.JAVA_BYTE)) {
                assertEquals((byte) 0x5A, b, "nothing written");
            }
            BFloat16.toFloat(src, 0, dst, 0, 0);
            BFloat16.fromFloat(src, 0, src, 8, 2);
        }
    }
}
