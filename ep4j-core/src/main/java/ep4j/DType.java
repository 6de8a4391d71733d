package ep4j;

/** Element types of the tensors ep4j moves. Values are little-endian, as on every supported host and GPU. */
public enum DType {
    /** bfloat16, stored as the upper half of a float32 ({@link ep4j.codec.BFloat16}). */
    BF16(2),
    /** float8 e4m3fn: no infinities, max 448 ({@link ep4j.codec.E4M3}). */
    FP8_E4M3(1),
    /** IEEE-754 binary32. */
    FLOAT32(4),
    /** Two's-complement 32-bit integers (indices, counts, packed UE8M0 scales). */
    INT32(4),
    /** Two's-complement 64-bit integers (top-k indices). */
    INT64(8),
    /** One byte: booleans (0 or 1) and raw bytes. */
    UINT8(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /**
     * The size of one element.
     *
     * @return bytes
     */
    public int byteSize() {
        return byteSize;
    }
}
