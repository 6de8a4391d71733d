package ep4j.codec;

import ep4j.InvalidArgumentException;
import java.lang.foreign.MemorySegment;

/**
 * bfloat16 ({@code bf16}): the upper 16 bits of an IEEE-754 binary32, held in a {@code short}.
 *
 * <p>This class is the bit-exact reference for the GPU kernels. Its conversion from float32 is
 * the one of PTX {@code cvt.rn.bf16.f32} (CUDA {@code __float2bfloat16_rn}):
 * <ul>
 *   <li>round to nearest, ties to even, on the 16 dropped bits;</li>
 *   <li>no flush to zero: float32 subnormals round to bf16 subnormals (or to a signed zero);</li>
 *   <li>a finite value past the largest bf16 ({@code 0x7F7F}, about 3.39e38) rounds to infinity
 *       exactly as IEEE round-to-nearest-even overflows (only values at or beyond the midpoint
 *       between {@code 0x7F7F} and 2^128 do); infinities stay infinities, signed zeros keep their sign;</li>
 *   <li><b>NaN policy:</b> every NaN input, whatever its sign and payload, becomes the canonical
 *       NaN {@code 0x7FFF} (sign cleared). Rounding a NaN's bits would otherwise be able to carry a
 *       quiet NaN into infinity and would make the bytes depend on the payload.</li>
 * </ul>
 * Widening back to float32 ({@link #toFloat(short)}) is exact and keeps every bit, NaN payloads included.
 *
 * <p>The bulk methods read and write little-endian values, the byte order of the GPUs and of
 * every host ep4j supports, with no alignment requirement.
 */
public final class BFloat16 {

    /** The canonical NaN that {@link #fromFloat(float)} returns for any NaN. */
    public static final short NaN = 0x7FFF;
    /** +infinity. */
    public static final short POSITIVE_INFINITY = 0x7F80;
    /** -infinity. */
    public static final short NEGATIVE_INFINITY = (short) 0xFF80;
    /** The largest finite bf16, (2 - 2^-7) * 2^127. */
    public static final short MAX_VALUE = 0x7F7F;

    private BFloat16() {
    }

    /**
     * Rounds a float32 to bf16, round to nearest even; any NaN gives {@link #NaN} ({@code 0x7FFF}).
     * Overflow goes to infinity, subnormals are kept (see the class comment).
     *
     * @param f any float
     * @return the bf16 bits
     */
    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return NaN;
        }
        // Adding 0x7FFF plus the lowest kept bit carries into bit 16 exactly when the dropped half
        // is above one half, or equal to it with an odd kept part; a carry out of the mantissa
        // bumps the exponent, which is what makes overflow land on infinity. The largest non-NaN
        // pattern is -infinity (0xFF80_0000), so the add never carries out of bit 31.
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /**
     * Widens a bf16 to float32: exact, every bit kept (a NaN keeps its sign and payload).
     *
     * @param bf16 the bf16 bits
     * @return the float
     */
    public static float toFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xFFFF) << 16);
    }

    /**
     * Whether {@code f} survives {@code toFloat(fromFloat(f))} bit for bit: true for every float
     * whose low 16 bits are zero, except NaNs, of which only the canonical {@code 0x7FFF0000} is
     * kept (the others are canonicalised by {@link #fromFloat(float)}).
     *
     * @param f any float
     * @return true when the round trip keeps every bit
     */
    public static boolean isExactlyRepresentable(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return bits == (NaN << 16);
        }
        return (bits & 0xFFFF) == 0;
    }

    /**
     * Widens {@code count} bf16 at the start of {@code bf16} into float32 at the start of {@code f32}.
     *
     * @param bf16  the input, {@code 2 * count} bytes
     * @param count values, {@code >= 0}
     * @param f32   the output, {@code 4 * count} bytes
     * @throws InvalidArgumentException as {@link #toFloat(MemorySegment, long, MemorySegment, long, long)}
     */
    public static void toFloat(MemorySegment bf16, long count, MemorySegment f32) {
        toFloat(bf16, 0, f32, 0, count);
    }

    /**
     * Rounds {@code count} float32 at the start of {@code f32} into bf16 at the start of {@code bf16}.
     *
     * @param f32   the input, {@code 4 * count} bytes
     * @param count values, {@code >= 0}
     * @param bf16  the output, {@code 2 * count} bytes
     * @throws InvalidArgumentException as {@link #toFloat(MemorySegment, long, MemorySegment, long, long)}
     */
    public static void fromFloat(MemorySegment f32, long count, MemorySegment bf16) {
        fromFloat(f32, 0, bf16, 0, count);
    }

    /**
     * Widens {@code count} little-endian bf16 values read from {@code src} at byte
     * {@code srcOffset} into little-endian float32 written to {@code dst} at byte {@code dstOffset}.
     *
     * @param src       the input
     * @param srcOffset where the input starts, in bytes
     * @param dst       the output
     * @param dstOffset where the output starts, in bytes
     * @param count     values, {@code >= 0}
     * @throws InvalidArgumentException on a negative count or offset, a range past a segment's end,
     *         a read-only {@code dst}, or overlapping source and destination ranges; nothing is
     *         written then
     */
    public static void toFloat(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long count) {
        MemorySegment in = Segments.slice("src", src, srcOffset, count, Short.BYTES);
        MemorySegment out = Segments.slice("dst", dst, dstOffset, count, Float.BYTES);
        Segments.checkWritableDisjoint("dst", out, "src", in);
        for (long i = 0; i < count; i++) {
            out.setAtIndex(Segments.F32_LE, i, toFloat(in.getAtIndex(Segments.BF16_LE, i)));
        }
    }

    /**
     * Rounds {@code count} little-endian float32 values read from {@code src} at byte
     * {@code srcOffset} to little-endian bf16 written to {@code dst} at byte {@code dstOffset},
     * each as {@link #fromFloat(float)} does.
     *
     * @param src       the input
     * @param srcOffset where the input starts, in bytes
     * @param dst       the output
     * @param dstOffset where the output starts, in bytes
     * @param count     values, {@code >= 0}
     * @throws InvalidArgumentException as {@link #toFloat(MemorySegment, long, MemorySegment, long, long)}
     */
    public static void fromFloat(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long count) {
        MemorySegment in = Segments.slice("src", src, srcOffset, count, Float.BYTES);
        MemorySegment out = Segments.slice("dst", dst, dstOffset, count, Short.BYTES);
        Segments.checkWritableDisjoint("dst", out, "src", in);
        for (long i = 0; i < count; i++) {
            out.setAtIndex(Segments.BF16_LE, i, fromFloat(in.getAtIndex(Segments.F32_LE, i)));
        }
    }
}
