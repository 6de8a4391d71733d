package ep4j.codec;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Per-token, per-128-channel FP8 (E4M3) quantization of bf16 rows (DESIGN 2.6): the bit-exact
 * reference the GPU kernels are compared against. Every step is one IEEE float32 operation,
 * rounded to nearest even, in the order written here, with no fused multiply-add; a CUDA kernel
 * doing the same operations (IEEE division, i.e. not {@code --use_fast_math}) gets the same bits.
 *
 * <p>For each block of 128 channels of one row, with {@code x} the bf16 values widened to float:
 * <ol>
 *   <li>{@code amax = maxNum(|x_0|, ..., |x_127|)} starting from {@code +0}, where maxNum ignores
 *       NaN (CUDA {@code fmaxf}); the order does not matter, so a tree reduction agrees;</li>
 *   <li>{@code amax = maxNum(amax, 1e-4f)}, so an all-zero (or all-NaN) block gets {@code amax = 1e-4f};</li>
 *   <li>{@link Fp8Mode#DEFAULT}: {@code s = 448f / amax}, {@code q_i = E4M3(x_i * s)}, stored
 *       scale {@code amax / 448f};</li>
 *   <li>{@link Fp8Mode#ROUND_SCALE}, {@link Fp8Mode#UE8M0}: {@code scale = ceilPowerOfTwo(amax / 448f)}
 *       (see {@link #ceilPowerOfTwo(float)}), {@code q_i = E4M3(x_i / scale)}; UE8M0 stores only
 *       the scale's biased exponent byte.</li>
 * </ol>
 * {@code E4M3} is {@link E4M3#fromFloat(float)}: round to nearest even, saturating at ±448.
 *
 * <p><b>NaN and infinity policy.</b> A NaN channel does not take part in {@code amax} and encodes
 * as {@code 0x7F} (the NaN code; its sign is not kept). An infinite channel makes {@code amax}
 * infinite, and the float operations above then give: scale {@code +Infinity} (UE8M0 exponent
 * byte {@code 0xFF}), the infinite channels {@code 0x7F} ({@code Inf * 0} or {@code Inf / Inf}
 * is NaN) and every finite channel of the block a zero of its own sign. Other blocks are unaffected.
 *
 * <p><b>Overflow on dequantization.</b> Power-of-two scales can be up to twice {@code amax / 448},
 * so a block holding values near the top of the bf16 range can dequantize past
 * {@link Float#MAX_VALUE}: the largest bf16, {@code 255 * 2^120}, gets scale {@code 2^120} and the
 * code of 256, and {@code 256 * 2^120 = 2^128} is {@code +Infinity} in float32. Codes and scales
 * are exact all the same; only the float product overflows. The default mode cannot overflow there.
 *
 * <p>All data are little-endian: input rows of bf16 ({@code short}), {@code q} one byte per channel,
 * scales as described by {@link Fp8Mode}. Offsets are in bytes and need no alignment.
 * Methods check every argument before writing anything and throw {@link InvalidArgumentException}
 * for a bad size, offset, a read-only output or outputs overlapping each other or the input.
 */
public final class Fp8Quantizer {

    /** Channels per scale. */
    public static final int BLOCK = Fp8Mode.BLOCK;
    /** The floor of {@code amax}, so an all-zero block does not divide by zero. */
    public static final float AMAX_FLOOR = 1e-4f;

    private Fp8Quantizer() {
    }

    /**
     * Quantizes one row of {@code hidden} bf16 values.
     *
     * @param x           bf16 input, read from byte {@code xOffset} ({@code 2 * hidden} bytes)
     * @param xOffset     where the row starts in {@code x}, in bytes
     * @param hidden      channels, a positive multiple of 128
     * @param mode        how scales are computed and stored
     * @param q           E4M3 output, written from byte {@code qOffset} ({@code hidden} bytes)
     * @param qOffset     where the row goes in {@code q}, in bytes
     * @param scales      scales output, written from byte {@code scaleOffset}
     *                    ({@link Fp8Mode#scaleBytesPerRow(int)} bytes, padding included)
     * @param scaleOffset where the row's scales go in {@code scales}, in bytes
     * @throws InvalidArgumentException as the class comment says; nothing is written then
     */
    public static void quantizeRow(MemorySegment x, long xOffset, int hidden, Fp8Mode mode,
                                   MemorySegment q, long qOffset, MemorySegment scales, long scaleOffset) {
        quantize(x, xOffset, 1, hidden, mode, q, qOffset, scales, scaleOffset);
    }

    /**
     * Quantizes a row-major {@code [tokens, hidden]} bf16 tensor starting at byte 0 of {@code x}
     * into {@code q [tokens, hidden]} and {@code scalesOrPacked [tokens, mode.scaleElementsPerRow(hidden)]},
     * both from byte 0; row {@code t} is exactly what {@link #quantizeRow} gives for it.
     *
     * @param x              bf16 input, {@code 2 * tokens * hidden} bytes
     * @param tokens         rows, {@code >= 0}
     * @param hidden         channels, a positive multiple of 128
     * @param mode           how scales are computed and stored
     * @param q              E4M3 output, {@code tokens * hidden} bytes
     * @param scalesOrPacked scales output, {@code tokens * mode.scaleBytesPerRow(hidden)} bytes
     * @throws InvalidArgumentException as the class comment says; nothing is written then
     */
    public static void quantize(MemorySegment x, int tokens, int hidden, Fp8Mode mode,
                                MemorySegment q, MemorySegment scalesOrPacked) {
        quantize(x, 0, tokens, hidden, mode, q, 0, scalesOrPacked, 0);
    }

    private static void quantize(MemorySegment x, long xOffset, int tokens, int hidden, Fp8Mode mode,
                                 MemorySegment q, long qOffset, MemorySegment scales, long scaleOffset) {
        if (mode == null) {
            throw new InvalidArgumentException("mode", null, "an Fp8Mode");
        }
        if (tokens < 0) {
            throw new InvalidArgumentException("tokens", tokens, ">= 0");
        }
        long scaleRowBytes = mode.scaleBytesPerRow(hidden);
        long rows = tokens;
        MemorySegment in = Segments.slice("x", x, xOffset, rows * hidden, Short.BYTES);
        MemorySegment out = Segments.slice("q", q, qOffset, rows * hidden, Byte.BYTES);
        MemorySegment sc = Segments.slice("scales", scales, scaleOffset, rows * scaleRowBytes, Byte.BYTES);
        Segments.checkWritableDisjoint("q", out, "x", in);
        Segments.checkWritableDisjoint("scales", sc, "x", in);
        Segments.checkWritableDisjoint("scales", sc, "q", out);

        float[] block = new float[BLOCK];
        int blocks = hidden / BLOCK;
        for (long t = 0; t < rows; t++) {
            long xRow = t * hidden * Short.BYTES;
            long qRow = t * hidden;
            long sRow = t * scaleRowBytes;
            for (int b = 0; b < blocks; b++) {
                long first = (long) b * BLOCK;
                for (int i = 0; i < BLOCK; i++) {
                    block[i] = BFloat16.toFloat(in.get(Segments.BF16_LE, xRow + (first + i) * Short.BYTES));
                }
                float amax = blockAmax(block);
                if (mode.powerOfTwoScale()) {
                    float scale = ceilPowerOfTwo(amax / E4M3.MAX_VALUE);
                    for (int i = 0; i < BLOCK; i++) {
                        out.set(ValueLayout.JAVA_BYTE, qRow + first + i, E4M3.fromFloat(block[i] / scale));
                    }
                    if (mode.packedExponents()) {
                        sc.set(ValueLayout.JAVA_BYTE, sRow + b, (byte) (Float.floatToRawIntBits(scale) >>> 23));
                    } else {
                        sc.set(Segments.F32_LE, sRow + (long) b * Float.BYTES, scale);
                    }
                } else {
                    float s = E4M3.MAX_VALUE / amax;
                    for (int i = 0; i < BLOCK; i++) {
                        out.set(ValueLayout.JAVA_BYTE, qRow + first + i, E4M3.fromFloat(block[i] * s));
                    }
                    sc.set(Segments.F32_LE, sRow + (long) b * Float.BYTES, amax / E4M3.MAX_VALUE);
                }
            }
            if (mode.packedExponents()) {
                // The last int of a row may cover fewer than four blocks; its spare bytes are defined as zero.
                for (long p = blocks; p < scaleRowBytes; p++) {
                    sc.set(ValueLayout.JAVA_BYTE, sRow + p, (byte) 0);
                }
            }
        }
    }

    /** {@code max(maxNum over |v|, 1e-4f)}: NaNs are skipped, as CUDA's fmaxf does (Math.max would return NaN). */
    static float blockAmax(float[] block) {
        float amax = 0f;
        for (float v : block) {
            float a = Math.abs(v);
            if (a > amax) {
                amax = a;
            }
        }
        return amax < AMAX_FLOOR ? AMAX_FLOOR : amax;
    }

    /**
     * The smallest power of two {@code >= v}, exact, from the float's bits: {@code v} itself when
     * it is a power of two (subnormal powers included), otherwise {@code 2^(floor(log2 v) + 1)}.
     * This is {@code 2^ceil(log2 v)} without the rounding error a float {@code log2} could add.
     * For {@code v > 2^127} the answer, 2^128, is not a float and {@code +Infinity} is returned, as
     * it is for {@code v = +Infinity}.
     *
     * @param v a positive float
     * @return {@code 2^ceil(log2 v)}, or {@code +Infinity}
     * @throws InvalidArgumentException unless {@code v > 0} (NaN, zero and negatives are refused)
     */
    public static float ceilPowerOfTwo(float v) {
        if (!(v > 0f)) {
            throw new InvalidArgumentException("v", v, "a positive float");
        }
        int bits = Float.floatToRawIntBits(v);
        int exponent = bits >>> 23;
        int mantissa = bits & 0x7F_FFFF;
        if (exponent == 0xFF || mantissa == 0) {
            return v;
        }
        if (exponent == 0) {
            // A subnormal's value is its mantissa times 2^-149, so the power of two is found among
            // the mantissa bits; one step past bit 22 is 0x0080_0000, the bits of 2^-126.
            int top = Integer.highestOneBit(mantissa);
            return Float.intBitsToFloat(top == mantissa ? mantissa : top << 1);
        }
        // Exponent 0xFE + 1 gives the bits of +Infinity, the overflow documented above.
        return Float.intBitsToFloat((exponent + 1) << 23);
    }

    /**
     * The value a code stands for under a scale: one float multiplication.
     *
     * @param q     an E4M3 code
     * @param scale the block's scale
     * @return {@code E4M3.toFloat(q) * scale}; a NaN code gives NaN
     */
    public static float dequantize(byte q, float scale) {
        return E4M3.toFloat(q) * scale;
    }

    /**
     * The scale a UE8M0 exponent byte stands for, {@code 2^(exponentByte - 127)} exactly:
     * 0 gives the subnormal 2^-127 and 255 gives {@code +Infinity}, the float32 scale that
     * {@link Fp8Mode#ROUND_SCALE} stores for a block that held an infinity. (OCP MX reads 255 as
     * NaN; such a block's codes are all zeros and NaNs, so it dequantizes to NaN either way.)
     * The quantizer never writes 0: {@code amax >= 1e-4} keeps the byte at 105 or more.
     *
     * @param exponentByte the stored byte, 0 to 255
     * @return the scale
     * @throws InvalidArgumentException unless {@code 0 <= exponentByte <= 255}
     */
    public static float ue8m0ToScale(int exponentByte) {
        if (exponentByte < 0 || exponentByte > 0xFF) {
            throw new InvalidArgumentException("exponentByte", exponentByte, "0..255");
        }
        return exponentByte == 0 ? 0x1p-127f : Float.intBitsToFloat(exponentByte << 23);
    }

    /**
     * Dequantizes one row into little-endian float32 ({@code 4 * hidden} bytes from {@code outOffset}):
     * channel {@code i} is {@code dequantize(q_i, scale of block i / 128)}, the scale read as
     * {@code mode} stores it.
     *
     * @param q           E4M3 codes, read from byte {@code qOffset} ({@code hidden} bytes)
     * @param qOffset     where the row starts in {@code q}, in bytes
     * @param hidden      channels, a positive multiple of 128
     * @param mode        how the scales are stored
     * @param scales      the row's scales, read from byte {@code scaleOffset}
     * @param scaleOffset where they start, in bytes
     * @param out         float32 output
     * @param outOffset   where the row goes in {@code out}, in bytes
     * @throws InvalidArgumentException as the class comment says; nothing is written then
     */
    public static void dequantizeRow(MemorySegment q, long qOffset, int hidden, Fp8Mode mode,
                                     MemorySegment scales, long scaleOffset, MemorySegment out, long outOffset) {
        if (mode == null) {
            throw new InvalidArgumentException("mode", null, "an Fp8Mode");
        }
        long scaleRowBytes = mode.scaleBytesPerRow(hidden);
        MemorySegment in = Segments.slice("q", q, qOffset, hidden, Byte.BYTES);
        MemorySegment sc = Segments.slice("scales", scales, scaleOffset, scaleRowBytes, Byte.BYTES);
        MemorySegment dst = Segments.slice("out", out, outOffset, hidden, Float.BYTES);
        Segments.checkWritableDisjoint("out", dst, "q", in);
        Segments.checkWritableDisjoint("out", dst, "scales", sc);
        for (int b = 0; b < hidden / BLOCK; b++) {
            float scale = mode.packedExponents()
                    ? ue8m0ToScale(sc.get(ValueLayout.JAVA_BYTE, b) & 0xFF)
                    : sc.get(Segments.F32_LE, (long) b * Float.BYTES);
            for (int i = b * BLOCK; i < (b + 1) * BLOCK; i++) {
                dst.setAtIndex(Segments.F32_LE, i, dequantize(in.get(ValueLayout.JAVA_BYTE, i), scale));
            }
        }
    }
}
