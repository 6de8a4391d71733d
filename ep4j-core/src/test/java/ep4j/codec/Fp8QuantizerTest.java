package ep4j.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class Fp8QuantizerTest {

    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** One quantized row, read back from the segments the production code wrote. */
    private record Quantized(byte[] q, float[] floatScales, int[] packed) {
        int exponentByte(int block) {
            return packed[block / 4] >>> (8 * (block % 4)) & 0xFF;
        }
    }

    private static MemorySegment bf16Row(Arena arena, short[] row) {
        MemorySegment x = arena.allocate(2L * row.length);
        for (int i = 0; i < row.length; i++) {
            x.set(BF16, 2L * i, row[i]);
        }
        return x;
    }

    private static Quantized quantize(short[] row, Fp8Mode mode) {
        try (Arena arena = Arena.ofConfined()) {
            int hidden = row.length;
            MemorySegment x = bf16Row(arena, row);
            MemorySegment q = arena.allocate(hidden);
            MemorySegment scales = arena.allocate(mode.scaleBytesPerRow(hidden));
            // Garbage first, so padding that is not written shows.
            scales.fill((byte) 0xA5);
            q.fill((byte) 0xA5);
            Fp8Quantizer.quantizeRow(x, 0, hidden, mode, q, 0, scales, 0);
            byte[] codes = q.toArray(ValueLayout.JAVA_BYTE);
            if (mode.packedExponents()) {
                int[] packed = new int[mode.scaleElementsPerRow(hidden)];
                for (int j = 0; j < packed.length; j++) {
                    packed[j] = scales.get(I32, 4L * j);
                }
                return new Quantized(codes, null, packed);
            }
            float[] floatScales = new float[hidden / 128];
            for (int b = 0; b < floatScales.length; b++) {
                floatScales[b] = scales.get(F32, 4L * b);
            }
            return new Quantized(codes, floatScales, null);
        }
    }

    private static short[] bf16(float... values) {
        short[] row = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            assertTrue(BFloat16.isExactlyRepresentable(values[i]) || Float.isNaN(values[i]), "test input " + values[i]);
            row[i] = (short) (Float.floatToRawIntBits(values[i]) >>> 16);
        }
        return row;
    }

    private static short[] filled(int hidden, float value) {
        float[] v = new float[hidden];
        Arrays.fill(v, value);
        return bf16(v);
    }

    /** Checks a row against the oracle, block by block, in the given mode. */
    private static void assertMatchesOracle(short[] row, Fp8Mode mode) {
        Quantized actual = quantize(row, mode);
        for (int b = 0; b < row.length / 128; b++) {
            float[] block = new float[128];
            for (int i = 0; i < 128; i++) {
                block[i] = (float) CodecOracle.bf16Value(row[b * 128 + i]);
            }
            CodecOracle.Block expected = CodecOracle.quantizeBlock(block, mode.powerOfTwoScale());
            byte[] codes = Arrays.copyOfRange(actual.q(), b * 128, b * 128 + 128);
            if (!Arrays.equals(expected.q(), codes)) {
                for (int i = 0; i < 128; i++) {
                    if (expected.q()[i] != codes[i]) {
                        fail(String.format("%s block %d channel %d: x = %s, q = 0x%02X, expected 0x%02X", mode, b, i,
                                block[i], codes[i] & 0xFF, expected.q()[i] & 0xFF));
                    }
                }
            }
            if (mode.packedExponents()) {
                assertEquals(expected.ue8m0(), actual.exponentByte(b), mode + " exponent of block " + b);
            } else {
                assertEquals(Float.floatToRawIntBits(expected.scale()), Float.floatToRawIntBits(actual.floatScales()[b]),
                        mode + " scale of block " + b + ": " + actual.floatScales()[b] + " vs " + expected.scale());
            }
        }
        if (mode.packedExponents()) {
            int blocks = row.length / 128;
            for (int p = blocks; p < 4 * actual.packed().length; p++) {
                assertEquals(0, actual.exponentByte(p), "padding byte " + p);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Fp8Mode.class)
    void allZerosClampAmaxTo1eMinus4(Fp8Mode mode) {
        short[] row = filled(256, 0f);
        row[3] = (short) 0x8000;
        Quantized r = quantize(row, mode);
        for (int i = 0; i < 256; i++) {
            assertEquals(i == 3 ? (byte) 0x80 : 0, r.q()[i], "channel " + i);
        }
        switch (mode) {
            case DEFAULT -> assertEquals(1e-4f / 448f, r.floatScales()[0]);
            case ROUND_SCALE -> assertEquals(0x1p-22f, r.floatScales()[1]);
            case UE8M0 -> {
                assertEquals(105, r.exponentByte(0));
                assertEquals(105, r.exponentByte(1));
            }
        }
        assertMatchesOracle(row, mode);
    }

    @ParameterizedTest
    @EnumSource(Fp8Mode.class)
    void nanIsIgnoredByAmaxAndEncodesAsNaN(Fp8Mode mode) {
        short[] row = filled(128, 1f);
        row[0] = (short) 0xC0E0; // -7
        row[5] = 0x7FC0;
        row[9] = (short) 0xFFC1; // negative NaN with a payload
        Quantized r = quantize(row, mode);
        assertEquals(0x7F, r.q()[5]);
        assertEquals(0x7F, r.q()[9]);
        float expectedScale = mode.powerOfTwoScale() ? 0x1p-6f : 7f / 448f;
        if (mode.packedExponents()) {
            assertEquals(127 - 6, r.exponentByte(0));
        } else {
            assertEquals(expectedScale, r.floatScales()[0]);
        }
        // -7 is the amax: it reaches -448 in the default mode, -7 * 64 = -448 with scale 2^-6.
        assertEquals((byte) 0xFE, r.q()[0]);
        assertMatchesOracle(row, mode);

        short[] allNaN = filled(128, Float.NaN);
        Quantized n = quantize(allNaN, mode);
        for (byte code : n.q()) {
            assertEquals(0x7F, code);
        }
        if (!mode.packedExponents()) {
            assertEquals(mode.powerOfTwoScale() ? 0x1p-22f : 1e-4f / 448f, n.floatScales()[0]);
        }
    }

    @Test
    void amaxOverScaleThatIsAnExactPowerOfTwoKeepsThatScale() {
        // amax = 56 = 448 * 2^-3: amax / 448 is exactly 0.125, which must not be bumped to 0.25.
        short[] row = filled(128, 1f);
        row[17] = bf16(56f)[0];
        Quantized round = quantize(row, Fp8Mode.ROUND_SCALE);
        assertEquals(0.125f, round.floatScales()[0]);
        assertEquals(0x7E, round.q()[17]);
        assertEquals(0x50, round.q()[0]); // 1 / 0.125 = 8 = 2^3
        assertEquals(124, quantize(row, Fp8Mode.UE8M0).exponentByte(0));
        Quantized plain = quantize(row, Fp8Mode.DEFAULT);
        assertEquals(0.125f, plain.floatScales()[0]);
        assertEquals(0x7E, plain.q()[17]);

        // Just above: 56.25 / 448 is not a power of two, so the scale goes up to 0.25.
        row[17] = bf16(56.25f)[0];
        Quantized above = quantize(row, Fp8Mode.ROUND_SCALE);
        assertEquals(0.25f, above.floatScales()[0]);
        assertEquals(0x76, above.q()[17]); // 225 = 1.7578125 * 2^7 rounds to 1.75 * 2^7 = 224
        assertEquals(125, quantize(row, Fp8Mode.UE8M0).exponentByte(0));
        for (Fp8Mode mode : Fp8Mode.values()) {
            assertMatchesOracle(row, mode);
        }
    }

    @Test
    void infinityMakesItsBlockScaleInfiniteAndLeavesOtherBlocksAlone() {
        short[] row = filled(256, 2f);
        row[1] = (short) 0x7F80;
        row[2] = (short) 0xFF80;
        row[3] = bf16(-3f)[0];
        for (Fp8Mode mode : Fp8Mode.values()) {
            Quantized r = quantize(row, mode);
            assertEquals(0x7F, r.q()[1], mode.toString());
            assertEquals(0x7F, r.q()[2], mode.toString());
            assertEquals((byte) 0x80, r.q()[3], mode.toString());
            assertEquals(0x00, r.q()[0], mode.toString());
            // Block 1 (all 2): 2 * 224 = 448 by default; 2 / 2^-7 = 256 with power-of-two scales.
            assertEquals(mode.powerOfTwoScale() ? 0x78 : 0x7E, r.q()[128], mode.toString());
            if (mode.packedExponents()) {
                assertEquals(255, r.exponentByte(0));
                assertEquals(120, r.exponentByte(1));
            } else {
                assertEquals(Float.POSITIVE_INFINITY, r.floatScales()[0]);
            }
            assertMatchesOracle(row, mode);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {128, 512, 640, 7168})
    void ue8m0PacksFourBlocksPerIntLittleEndianAndPadsWithZeros(int hidden) {
        int blocks = hidden / 128;
        short[] row = new short[hidden];
        for (int b = 0; b < blocks; b++) {
            // Block b's amax is 448 * 2^(b % 40 - 20), so its exponent byte is 107 + b % 40: all differ locally.
            float amax = 448f * (float) Math.pow(2, b % 40 - 20);
            for (int i = 0; i < 128; i++) {
                row[b * 128 + i] = bf16(i == (b * 7) % 128 ? -amax : amax / 4)[0];
            }
        }
        Quantized packed = quantize(row, Fp8Mode.UE8M0);
        Quantized round = quantize(row, Fp8Mode.ROUND_SCALE);
        assertEquals((blocks + 3) / 4, packed.packed().length);
        assertEquals((blocks + 3) / 4, Fp8Mode.UE8M0.scaleElementsPerRow(hidden));
        for (int b = 0; b < blocks; b++) {
            int expected = 107 + b % 40;
            int word = packed.packed()[b / 4];
            assertEquals(expected, (word >>> (8 * (b % 4))) & 0xFF, "block " + b);
            assertEquals(round.floatScales()[b], Fp8Quantizer.ue8m0ToScale(expected));
        }
        for (int p = blocks; p < 4 * packed.packed().length; p++) {
            assertEquals(0, packed.exponentByte(p), "padding byte " + p);
        }
        assertTrue(Arrays.equals(packed.q(), round.q()), "UE8M0 and ROUND_SCALE codes agree");
        if (hidden == 128) {
            assertEquals(107, packed.packed()[0], "one block: the other three bytes are zero");
        }
        if (hidden == 640) {
            assertEquals(107 | 108 << 8 | 109 << 16 | 110 << 24, packed.packed()[0]);
            assertEquals(111, packed.packed()[1]);
        }
        for (Fp8Mode mode : Fp8Mode.values()) {
            assertMatchesOracle(row, mode);
        }
    }

    @Test
    void wholeTensorEqualsRowByRowAndHonoursOffsets() {
        int tokens = 5;
        int hidden = 640;
        SplittableRandom random = new SplittableRandom(11);
        short[] all = new short[tokens * hidden];
        for (int i = 0; i < all.length; i++) {
            all[i] = randomBf16(random, random.nextInt(-20, 20));
        }
        for (Fp8Mode mode : Fp8Mode.values()) {
            try (Arena arena = Arena.ofConfined()) {
                long scaleRow = mode.scaleBytesPerRow(hidden);
                MemorySegment x = bf16Row(arena, all);
                MemorySegment q = arena.allocate((long) tokens * hidden);
                MemorySegment s = arena.allocate(tokens * scaleRow);
                Fp8Quantizer.quantize(x, tokens, hidden, mode, q, s);
                for (int t = 0; t < tokens; t++) {
                    short[] row = Arrays.copyOfRange(all, t * hidden, (t + 1) * hidden);
                    // The same row at odd offsets, through quantizeRow.
                    MemorySegment xr = arena.allocate(2L * hidden + 3);
                    MemorySegment.copy(bf16Row(arena, row), 0, xr, 3, 2L * hidden);
                    MemorySegment qr = arena.allocate(hidden + 1);
                    MemorySegment sr = arena.allocate(scaleRow + 5);
                    Fp8Quantizer.quantizeRow(xr, 3, hidden, mode, qr, 1, sr, 5);
                    assertEquals(-1, q.asSlice((long) t * hidden, hidden).mismatch(qr.asSlice(1, hidden)), mode + " q row " + t);
                    assertEquals(-1, s.asSlice(t * scaleRow, scaleRow).mismatch(sr.asSlice(5, scaleRow)), mode + " scales row " + t);
                    assertMatchesOracle(row, mode);
                }
            }
        }
    }

    @Test
    void dequantizeRowAppliesEachBlocksScale() {
        int hidden = 384;
        SplittableRandom random = new SplittableRandom(5);
        short[] row = new short[hidden];
        for (int i = 0; i < hidden; i++) {
            row[i] = randomBf16(random, i / 128 * 10 - 10);
        }
        for (Fp8Mode mode : Fp8Mode.values()) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment x = bf16Row(arena, row);
                MemorySegment q = arena.allocate(hidden);
                MemorySegment s = arena.allocate(mode.scaleBytesPerRow(hidden));
                MemorySegment out = arena.allocate(4L * hidden);
                Fp8Quantizer.quantizeRow(x, 0, hidden, mode, q, 0, s, 0);
                Fp8Quantizer.dequantizeRow(q, 0, hidden, mode, s, 0, out, 0);
                Quantized r = quantize(row, mode);
                for (int i = 0; i < hidden; i++) {
                    float scale = mode.packedExponents()
                            ? (float) Math.pow(2, r.exponentByte(i / 128) - 127)
                            : r.floatScales()[i / 128];
                    float expected = (float) CodecOracle.e4m3Value(r.q()[i] & 0xFF) * scale;
                    assertEquals(expected, out.getAtIndex(F32, i), mode + " channel " + i);
                }
            }
        }
    }

    @Test
    void scalarHelpers() {
        assertEquals(1f, Fp8Quantizer.ue8m0ToScale(127));
        assertEquals(0x1p-127f, Fp8Quantizer.ue8m0ToScale(0));
        assertEquals(0x1p-126f, Fp8Quantizer.ue8m0ToScale(1));
        assertEquals(0x1p127f, Fp8Quantizer.ue8m0ToScale(254));
        assertEquals(Float.POSITIVE_INFINITY, Fp8Quantizer.ue8m0ToScale(255));
        assertThrows(InvalidArgumentException.class, () -> Fp8Quantizer.ue8m0ToScale(-1));
        assertThrows(InvalidArgumentException.class, () -> Fp8Quantizer.ue8m0ToScale(256));

        assertEquals(1f, Fp8Quantizer.ceilPowerOfTwo(1f));
        assertEquals(2f, Fp8Quantizer.ceilPowerOfTwo(Math.nextUp(1f)));
        assertEquals(1f, Fp8Quantizer.ceilPowerOfTwo(Math.nextDown(1f)));
        assertEquals(0x1p127f, Fp8Quantizer.ceilPowerOfTwo(0x1p127f));
        assertEquals(Float.POSITIVE_INFINITY, Fp8Quantizer.ceilPowerOfTwo(Math.nextUp(0x1p127f)));
        assertEquals(Float.POSITIVE_INFINITY, Fp8Quantizer.ceilPowerOfTwo(Float.POSITIVE_INFINITY));
        assertEquals(Float.MIN_VALUE, Fp8Quantizer.ceilPowerOfTwo(Float.MIN_VALUE));
        assertEquals(4 * Float.MIN_VALUE, Fp8Quantizer.ceilPowerOfTwo(3 * Float.MIN_VALUE));
        assertEquals(0x1p-126f, Fp8Quantizer.ceilPowerOfTwo(Float.intBitsToFloat(0x007F_FFFF)));
        assertEquals(0x1p-127f, Fp8Quantizer.ceilPowerOfTwo(0x1p-127f));
        for (float bad : new float[] {0f, -0f, -1f, Float.NaN, Float.NEGATIVE_INFINITY}) {
            assertThrows(InvalidArgumentException.class, () -> Fp8Quantizer.ceilPowerOfTwo(bad));
        }
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < 200_000; i++) {
            float v = Float.intBitsToFloat(random.nextInt(1, 0x7F80_0001));
            assertEquals(CodecOracle.ceilPowerOfTwo(v), Fp8Quantizer.ceilPowerOfTwo(v), "ceilPowerOfTwo(" + v + ")");
        }

        assertEquals(448f * 0.5f, Fp8Quantizer.dequantize((byte) 0x7E, 0.5f));
        assertTrue(Float.isNaN(Fp8Quantizer.dequantize((byte) 0xFF, 1f)));
        assertEquals(Fp8Mode.DEFAULT, Fp8Mode.of(false, false));
        assertEquals(Fp8Mode.ROUND_SCALE, Fp8Mode.of(true, false));
        assertEquals(Fp8Mode.UE8M0, Fp8Mode.of(true, true));
        assertEquals(Fp8Mode.UE8M0, Fp8Mode.of(false, true));
        assertEquals(56, Fp8Mode.DEFAULT.scaleElementsPerRow(7168));
        assertEquals(14, Fp8Mode.UE8M0.scaleElementsPerRow(7168));
        assertEquals(2, Fp8Mode.UE8M0.scaleElementsPerRow(640));
    }

    @Test
    void rejectsBadArgumentsBeforeWriting() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(2 * 256);
            MemorySegment q = arena.allocate(256);
            MemorySegment s = arena.allocate(8);
            q.fill((byte) 0x33);
            s.fill((byte) 0x33);
            List<Runnable> bad = List.of(
                    () -> Fp8Quantizer.quantizeRow(x, 0, 200, Fp8Mode.DEFAULT, q, 0, s, 0),
                    () -> Fp8Quantizer.quantizeRow(x, 0, 0, Fp8Mode.DEFAULT, q, 0, s, 0),
                    () -> Fp8Quantizer.quantizeRow(x, 2, 256, Fp8Mode.DEFAULT, q, 0, s, 0),
                    () -> Fp8Quantizer.quantizeRow(x, 0, 256, Fp8Mode.DEFAULT, q, 1, s, 0),
                    () -> Fp8Quantizer.quantizeRow(x, 0, 256, Fp8Mode.DEFAULT, q, 0, s, 4),
                    () -> Fp8Quantizer.quantizeRow(x, 0, 256, Fp8Mode.UE8M0, q, 0, s, 5),
                    () -> Fp8Quantizer.quantizeRow(x, 0, 256, null, q, 0, s, 0),
                    () -> Fp8Quantizer.quantizeRow(x, 0, 256, Fp8Mode.DEFAULT, q.asReadOnly(), 0, s, 0),
                    () -> Fp8Quantizer.quantizeRow(x, 0, 256, Fp8Mode.DEFAULT, q, 0, q, 0),
                    () -> Fp8Quantizer.quantizeRow(x, 0, 256, Fp8Mode.DEFAULT, x, 256, s, 0),
                    () -> Fp8Quantizer.quantize(x, 2, 256, Fp8Mode.DEFAULT, q, s),
                    () -> Fp8Quantizer.quantize(x, -1, 256, Fp8Mode.DEFAULT, q, s));
            for (Runnable call : bad) {
                assertThrows(InvalidArgumentException.class, call::run);
            }
            for (byte b : q.toArray(ValueLayout.JAVA_BYTE)) {
                assertEquals(0x33, b);
            }
            for (byte b : s.toArray(ValueLayout.JAVA_BYTE)) {
                assertEquals(0x33, b);
            }
            Fp8Quantizer.quantize(x, 0, 256, Fp8Mode.DEFAULT, q, s);
            Fp8Quantizer.quantizeRow(x, 0, 128, Fp8Mode.DEFAULT, x, 256, s, 0);
        }
    }

    private static short randomBf16(SplittableRandom random, int exponent) {
        int biased = Math.max(0, Math.min(254, exponent + 127 - random.nextInt(0, 14)));
        int sign = random.nextBoolean() ? 0x8000 : 0;
        return (short) (sign | biased << 7 | random.nextInt(0, 128));
    }

    /** Finite bf16 elements whose exponents spread 16 binades below a row-wide base, zeros and subnormals included. */
    @Provide
    Arbitrary<short[]> bf16Rows() {
        Arbitrary<Integer> base = Arbitraries.integers().between(-140, 127);
        return base.flatMap(b -> {
            Arbitrary<Short> element = Combinators.combine(
                    Arbitraries.of(0, 0x8000),
                    Arbitraries.integers().between(0, 16),
                    Arbitraries.integers().between(0, 127)).as((sign, drop, mantissa) -> {
                        int biased = Math.max(0, Math.min(254, b + 127 - drop));
                        return (short) (sign | biased << 7 | mantissa);
                    });
            return element.array(short[].class).ofSize(256);
        });
    }

    @Property(tries = 2000)
    void quantizerMatchesOracle(@ForAll("bf16Rows") short[] row, @ForAll Fp8Mode mode) {
        assertMatchesOracle(row, mode);
    }

    /**
     * dequantize(quantize(x)) is within E4M3's rounding error of x: at most 2^-4 relative where the
     * scaled value is normal, and half the smallest subnormal (2^-10) times the scale below that;
     * the 2^-20 slack covers the float roundings of s, of the product and of the division.
     * The bound is checked on the exact product code * scale (in double); the float32 result must be
     * that product rounded once, which overflows to infinity in the one case
     * {@link #powerOfTwoScaleCanDequantizePastFloatMax()} shows.
     */
    @Property(tries = 2000)
    void roundTripErrorIsWithinE4M3Precision(@ForAll("bf16Rows") short[] row, @ForAll Fp8Mode mode) {
        try (Arena arena = Arena.ofConfined()) {
            int hidden = row.length;
            MemorySegment x = bf16Row(arena, row);
            MemorySegment q = arena.allocate(hidden);
            MemorySegment s = arena.allocate(mode.scaleBytesPerRow(hidden));
            MemorySegment out = arena.allocate(4L * hidden);
            Fp8Quantizer.quantizeRow(x, 0, hidden, mode, q, 0, s, 0);
            Fp8Quantizer.dequantizeRow(q, 0, hidden, mode, s, 0, out, 0);
            for (int i = 0; i < hidden; i++) {
                double xi = CodecOracle.bf16Value(row[i]);
                float scale = mode.packedExponents()
                        ? (float) Math.pow(2, (s.get(ValueLayout.JAVA_BYTE, i / 128) & 0xFF) - 127)
                        : s.getAtIndex(F32, i / 128);
                // A 4-bit code value times a 24-bit scale is exact in double.
                double exact = CodecOracle.e4m3Value(q.get(ValueLayout.JAVA_BYTE, i) & 0xFF) * scale;
                float dequantized = out.getAtIndex(F32, i);
                assertEquals(Float.floatToRawIntBits((float) exact), Float.floatToRawIntBits(dequantized),
                        mode + " channel " + i + ": one rounding of " + exact);
                double error = Math.abs(exact - xi);
                double bound = (0x1p-4 * Math.abs(xi) + 0x1p-10 * scale) * (1 + 0x1p-20);
                if (!(error <= bound)) {
                    fail(mode + " channel " + i + ": x = " + xi + ", dequantized " + exact
                            + ", error " + error + " > " + bound + " (scale " + scale + ")");
                }
            }
        }
    }

    @Test
    void powerOfTwoScaleCanDequantizePastFloatMax() {
        // The largest bf16, 255 * 2^120: amax / 448 rounds up to the scale 2^120, 255 rounds to the
        // code of 256, and 256 * 2^120 = 2^128 is past Float.MAX_VALUE.
        short[] row = filled(128, 1f);
        row[0] = BFloat16.MAX_VALUE;
        for (Fp8Mode mode : List.of(Fp8Mode.ROUND_SCALE, Fp8Mode.UE8M0)) {
            Quantized r = quantize(row, mode);
            assertEquals(0x78, r.q()[0]);
            float scale = mode.packedExponents() ? Fp8Quantizer.ue8m0ToScale(r.exponentByte(0)) : r.floatScales()[0];
            assertEquals(0x1p120f, scale);
            assertEquals(Float.POSITIVE_INFINITY, Fp8Quantizer.dequantize(r.q()[0], scale));
        }
        Quantized plain = quantize(row, Fp8Mode.DEFAULT);
        assertEquals(0x7E, plain.q()[0]);
        assertEquals(BFloat16.toFloat(BFloat16.MAX_VALUE), Fp8Quantizer.dequantize(plain.q()[0], plain.floatScales()[0]),
                BFloat16.toFloat(BFloat16.MAX_VALUE) * 0x1p-20f);
    }
}
