package ep4j;

/** Element types of the tensors ep4j moves. Values are little-endian, as on every supported host and GPU. */
public enum DType {
    /** bfloat16, stored as the upper half of a float32. */
    BF16(2),
    /** float8 e4m3fn: no infinities, max 448. */
    FP8_E4M3(1),
    FLOAT32(4),
    INT32(4),
    INT64(8),
    /** One byte: booleans (0 or 1) and raw bytes. */
    UINT8(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    public int byteSize() {
        return byteSize;
    }
}
