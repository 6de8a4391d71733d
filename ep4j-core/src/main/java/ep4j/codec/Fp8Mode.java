package ep4j.codec;

import ep4j.InvalidArgumentException;

/**
 * How {@link Fp8Quantizer} scales each block of 128 channels, and how it stores the scales.
 * The scale layout of one row of {@code hidden} channels is:
 * <ul>
 *   <li>{@link #DEFAULT}, {@link #ROUND_SCALE}: {@code hidden / 128} little-endian float32;</li>
 *   <li>{@link #UE8M0}: {@code ceil(hidden / 512)} int32, byte {@code i} (little-endian order) of
 *       int {@code j} holding the exponent byte of block {@code 4j + i}; missing blocks are zero bytes.</li>
 * </ul>
 */
public enum Fp8Mode {
    /** Scale {@code amax / 448}, stored as float32. */
    DEFAULT(false, false),
    /** Scale rounded up to a power of two, stored as float32. */
    ROUND_SCALE(true, false),
    /** Scale rounded up to a power of two, stored as its biased exponent byte, four to an int32. */
    UE8M0(true, true);

    /** Channels per scale. */
    public static final int BLOCK = 128;

    private final boolean powerOfTwoScale;
    private final boolean packedExponents;

    Fp8Mode(boolean powerOfTwoScale, boolean packedExponents) {
        this.powerOfTwoScale = powerOfTwoScale;
        this.packedExponents = packedExponents;
    }

    /**
     * The mode for the low-latency dispatch flags; {@code ue8m0} implies power-of-two scales
     * whatever {@code roundScale} says, as an exponent byte can hold nothing else.
     *
     * @param roundScale power-of-two scales
     * @param ue8m0      scales stored as exponent bytes
     * @return the mode
     */
    public static Fp8Mode of(boolean roundScale, boolean ue8m0) {
        return ue8m0 ? UE8M0 : roundScale ? ROUND_SCALE : DEFAULT;
    }

    /**
     * Whether scales are powers of two.
     *
     * @return true for {@link #ROUND_SCALE} and {@link #UE8M0}
     */
    public boolean powerOfTwoScale() {
        return powerOfTwoScale;
    }

    /**
     * Whether scales are stored as packed exponent bytes rather than float32.
     *
     * @return true for {@link #UE8M0}
     */
    public boolean packedExponents() {
        return packedExponents;
    }

    /**
     * Elements of one row's scale array.
     *
     * @param hidden channels, a positive multiple of 128
     * @return {@code hidden/128} floats, or {@code ceil(hidden/512)} ints
     * @throws InvalidArgumentException for any other {@code hidden}
     */
    public int scaleElementsPerRow(int hidden) {
        checkHidden(hidden);
        int blocks = hidden / BLOCK;
        return packedExponents ? (blocks + 3) / 4 : blocks;
    }

    /**
     * Bytes of one row's scales; the element is 4 bytes in every mode.
     *
     * @param hidden channels, a positive multiple of 128
     * @return bytes
     * @throws InvalidArgumentException for any other {@code hidden}
     */
    public long scaleBytesPerRow(int hidden) {
        return 4L * scaleElementsPerRow(hidden);
    }

    static void checkHidden(int hidden) {
        if (hidden <= 0 || hidden % BLOCK != 0) {
            throw new InvalidArgumentException("hidden", hidden, "a positive multiple of " + BLOCK);
        }
    }
}
