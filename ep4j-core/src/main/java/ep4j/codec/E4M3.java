package ep4j.codec;

/**
 * FP8 E4M3 in its {@code float8_e4m3fn} flavour (OCP FP8, as on Hopper): 1 sign bit, 4 exponent
 * bits with bias 7, 3 mantissa bits, no infinities, one NaN per sign ({@code 0x7F}, {@code 0xFF}).
 * Normal values are {@code 2^(e-7) * (1 + m/8)} for {@code e} in 1..15 (except {@code e=15, m=7});
 * subnormals are {@code m * 2^-9}. The largest finite value is 448 ({@code 0x7E}), the smallest
 * normal 2^-6 ({@code 0x08}), the smallest subnormal 2^-9 ({@code 0x01}).
 *
 * <p>{@link #fromFloat(float)} is the bit-exact reference for PTX
 * {@code cvt.rn.satfinite.e4m3x2.f32} (CUDA {@code __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3)}):
 * <ul>
 *   <li>round to nearest, ties to the even code (the code whose lowest bit is 0), applied to the
 *       exact float value, subnormal range included: a value is rounded to a multiple of 2^-9
 *       below 2^-6, and may round up from the subnormal range into the smallest normal;</li>
 *   <li>magnitudes below 2^-10 (half the smallest subnormal) become a zero of the input's sign;
 *       exactly 2^-10 is a tie between 0 and 2^-9 and goes to the even code, zero;</li>
 *   <li><b>saturation</b>: every magnitude at or above 448, finite or infinite, becomes ±448
 *       ({@code 0x7E}/{@code 0xFE}). Nothing finite rounds to NaN;</li>
 *   <li><b>NaN policy</b>: every NaN input, whatever its sign and payload, becomes {@code 0x7F};
 *       {@code -0.0f} becomes {@code 0x80}.</li>
 * </ul>
 * {@link #toFloat(byte)} is exact; both NaN codes decode to {@link Float#NaN}.
 */
public final class E4M3 {

    /** The NaN code {@link #fromFloat(float)} returns for any NaN. */
    public static final byte NaN = 0x7F;
    /** The code of +448, the largest finite value. */
    public static final byte MAX_CODE = 0x7E;
    /** The largest finite E4M3 value. */
    public static final float MAX_VALUE = 448f;
    /** The smallest positive normal E4M3 value, 2^-6. */
    public static final float MIN_NORMAL = 0x1p-6f;
    /** The smallest positive E4M3 value, a subnormal, 2^-9. */
    public static final float MIN_VALUE = 0x1p-9f;

    private static final int FLOAT_448_BITS = 0x43E0_0000;
    private static final int FLOAT_MIN_NORMAL_BITS = 0x3C80_0000;
    /** float32 exponent bias (127) minus E4M3 exponent bias (7). */
    private static final int EXPONENT_REBIAS = 120;

    private static final float[] DECODED = new float[256];

    static {
        for (int code = 0; code < 256; code++) {
            DECODED[code] = decode(code);
        }
    }

    private E4M3() {
    }

    private static float decode(int code) {
        int sign = code >>> 7;
        int exponent = (code >>> 3) & 0xF;
        int mantissa = code & 0x7;
        if (exponent == 0xF && mantissa == 0x7) {
            return Float.NaN;
        }
        if (exponent == 0) {
            float magnitude = mantissa * MIN_VALUE;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign << 31 | (exponent + EXPONENT_REBIAS) << 23 | mantissa << 20);
    }

    /**
     * Encodes a float32 to E4M3: round to nearest even, saturate to ±448, NaN to {@code 0x7F},
     * sign of zero kept (see the class comment for every corner).
     *
     * @param f any float
     * @return the E4M3 code
     */
    public static byte fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 24) & 0x80;
        int magnitude = bits & 0x7FFF_FFFF;
        if (magnitude > 0x7F80_0000) {
            return NaN;
        }
        if (magnitude >= FLOAT_448_BITS) {
            // 448 < |f| < 464 rounds down to 448, and from 464 on plain rounding would give 480
            // (the NaN code), which satfinite clamps back to 448: all of it is 448.
            return (byte) (sign | MAX_CODE);
        }
        if (magnitude >= FLOAT_MIN_NORMAL_BITS) {
            // Round the float's 23-bit mantissa to 3 bits, ties to even; a carry out of the mantissa
            // lands in the exponent, which is the correct next binade. Below 448 the result stays <= 0x7E.
            int rounded = magnitude + 0x7FFFF + ((magnitude >>> 20) & 1);
            return (byte) (sign | ((rounded >>> 20) - (EXPONENT_REBIAS << 3)));
        }
        // Below 2^-6 the code is the number of 2^-9 steps, 0..8 (8 being the smallest normal),
        // so the scaled value only needs rounding to an integer. Scaling by 2^9 is exact here.
        float steps = Float.intBitsToFloat(magnitude) * 512f;
        return (byte) (sign | (int) Math.rint(steps));
    }

    /**
     * Decodes an E4M3 code exactly.
     *
     * @param code any byte
     * @return its value; {@code 0x7F} and {@code 0xFF} give {@link Float#NaN}
     */
    public static float toFloat(byte code) {
        return DECODED[code & 0xFF];
    }

    /**
     * Whether the code is one of the two NaNs.
     *
     * @param code any byte
     * @return true for {@code 0x7F} and {@code 0xFF}
     */
    public static boolean isNaN(byte code) {
        return (code & 0x7F) == 0x7F;
    }
}
