package ep4j.codec;

/**
 * Slow, obviously-correct reference implementations of the codecs, written from the formats'
 * definitions and sharing no code with the production classes (they never call BFloat16, E4M3
 * or Fp8Quantizer). Public so the GPU tests of ep4j-cuda can take their expected bytes from here.
 */
public final class CodecOracle {

    /** Value of every E4M3 code, straight from the definition; NaN for 0x7F and 0xFF. */
    private static final double[] E4M3_VALUES = new double[256];

    static {
        for (int code = 0; code < 256; code++) {
            double sign = (code & 0x80) != 0 ? -1.0 : 1.0;
            int e = (code >> 3) & 0xF;
            int m = code & 0x7;
            if (e == 15 && m == 7) {
                E4M3_VALUES[code] = Double.NaN;
            } else if (e == 0) {
                E4M3_VALUES[code] = sign * (m / 8.0) * Math.pow(2, -6);
            } else {
                E4M3_VALUES[code] = sign * (1 + m / 8.0) * Math.pow(2, e - 7);
            }
        }
    }

    private CodecOracle() {
    }

    /** The exact value of an E4M3 code (0..255), NaN for the two NaN codes. */
    public static double e4m3Value(int code) {
        return E4M3_VALUES[code & 0xFF];
    }

    /**
     * E4M3 encoding by exhaustive search: the nearest of the 127 finite non-negative values to
     * |x| (so anything past 448, infinity included, saturates to 448), ties to the code with a 0
     * lowest bit, then the sign bit of x; NaN gives 0x7F.
     */
    public static byte e4m3FromFloat(float x) {
        if (Float.isNaN(x)) {
            return 0x7F;
        }
        int sign = Math.copySign(1.0f, x) < 0 ? 0x80 : 0;
        if (Float.isInfinite(x)) {
            return (byte) (sign | 0x7E);
        }
        double a = Math.abs((double) x);
        int best = 0;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (int code = 0; code <= 0x7E; code++) {
            // The two values bracketing a are within a factor 2 of a (or one is 0), so these two
            // differences are exact in double; farther values are farther by at least one E4M3
            // step, far more than a rounding error, so the comparison is decided correctly.
            double d = Math.abs(a - E4M3_VALUES[code]);
            if (d < bestDistance || (d == bestDistance && (code & 1) == 0)) {
                best = code;
                bestDistance = d;
            }
        }
        return (byte) (sign | best);
    }

    /**
     * bf16 rounding from the definition: the two bf16 neighbours of |f| on the grid of its binade
     * (spacing 2^(exponent-7), or 2^-133 below 2^-126), nearest wins, a tie goes to the neighbour
     * with an even multiple of the spacing; 2^128 or more is infinity; any NaN is 0x7FFF.
     */
    public static short bf16FromFloat(float f) {
        if (Float.isNaN(f)) {
            return 0x7FFF;
        }
        boolean negative = Math.copySign(1.0f, f) < 0;
        double a = Math.abs((double) f);
        double rounded;
        if (Double.isInfinite(a)) {
            rounded = a;
        } else {
            double spacing = a >= 0x1p-126 ? Math.pow(2, Math.getExponent(a) - 7) : 0x1p-133;
            double steps = Math.floor(a / spacing);
            double fraction = a / spacing - steps;
            if (fraction > 0.5 || (fraction == 0.5 && steps % 2 == 1)) {
                steps += 1;
            }
            rounded = steps * spacing;
            if (rounded >= 0x1p128) {
                rounded = Double.POSITIVE_INFINITY;
            }
        }
        // rounded has at most 8 significant bits and lies in float range, so the cast is exact.
        float r = negative ? -(float) rounded : (float) rounded;
        return (short) (Float.floatToRawIntBits(r) >>> 16);
    }

    /** The value of a bf16 bit pattern, from sign, 8-bit exponent (bias 127) and 7-bit mantissa. */
    public static double bf16Value(short bits) {
        int b = bits & 0xFFFF;
        double sign = (b & 0x8000) != 0 ? -1.0 : 1.0;
        int e = (b >> 7) & 0xFF;
        int m = b & 0x7F;
        if (e == 0xFF) {
            return m == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        }
        if (e == 0) {
            return sign * (m / 128.0) * Math.pow(2, -126);
        }
        return sign * (1 + m / 128.0) * Math.pow(2, e - 127);
    }

    /** Smallest power of two >= v > 0 by doubling from 2^-149; +Infinity past 2^127. */
    public static float ceilPowerOfTwo(float v) {
        double p = 0x1p-149;
        while (p < v) {
            p *= 2;
        }
        return p > Float.MAX_VALUE ? Float.POSITIVE_INFINITY : (float) p;
    }

    /** The quantized codes and the (float) scale of one block of 128 channels. */
    public record Block(byte[] q, float scale) {
        /** The UE8M0 byte of a power-of-two scale: its base-2 exponent plus 127 (255 for infinity). */
        public int ue8m0() {
            return Float.isInfinite(scale) ? 255 : Math.getExponent(scale) + 127;
        }
    }

    /**
     * DESIGN 2.6 for one block of 128 floats: amax over non-NaN |x| floored at 1e-4f; DEFAULT:
     * q = e4m3(x * (448f / amax)), scale amax / 448f; power-of-two modes: scale = ceilPow2(amax / 448f),
     * q = e4m3(x / scale).
     */
    public static Block quantizeBlock(float[] x, boolean powerOfTwoScale) {
        float amax = 0f;
        for (float v : x) {
            if (!Float.isNaN(v)) {
                amax = Math.max(amax, Math.abs(v));
            }
        }
        amax = Math.max(amax, 1e-4f);
        byte[] q = new byte[x.length];
        float scale;
        if (powerOfTwoScale) {
            scale = ceilPowerOfTwo(amax / 448f);
            for (int i = 0; i < x.length; i++) {
                q[i] = e4m3FromFloat(x[i] / scale);
            }
        } else {
            float s = 448f / amax;
            for (int i = 0; i < x.length; i++) {
                q[i] = e4m3FromFloat(x[i] * s);
            }
            scale = amax / 448f;
        }
        return new Block(q, scale);
    }
}
