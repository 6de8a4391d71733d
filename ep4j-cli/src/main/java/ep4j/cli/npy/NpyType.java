package ep4j.cli.npy;

/** The NumPy element types ep4j reads and writes: little-endian, as NumPy writes them on x86 and ARM hosts. */
public enum NpyType {
    FLOAT32("<f4", 4),
    INT64("<i8", 8),
    INT32("<i4", 4),
    UINT8("|u1", 1);

    private final String descr;
    private final int byteSize;

    NpyType(String descr, int byteSize) {
        this.descr = descr;
        this.byteSize = byteSize;
    }

    /** The NumPy {@code descr} string written into headers, e.g. {@code <f4}. */
    public String descr() {
        return descr;
    }

    public int byteSize() {
        return byteSize;
    }

    /**
     * The type of a header's {@code descr}. One-byte types may say {@code |}, {@code <} or
     * {@code =}; wider ones {@code <} (or {@code =}, native, which is little-endian on every
     * host ep4j runs on). Big-endian data and other types are rejected, naming what is supported.
     */
    public static NpyType ofDescr(String descr, String source) {
        if (descr == null || descr.length() < 2) {
            throw new NpyFormatException(source, "dtype descr '" + descr + "' is not a simple NumPy type" + supported());
        }
        char order = descr.charAt(0);
        String code = descr.substring(1);
        if (order == '>' || order == '!') {
            throw new NpyFormatException(source, "dtype '" + descr + "' is big-endian, expected little-endian ('<"
                    + code + "'): convert it with arr.astype(arr.dtype.newbyteorder('<'))" + supported());
        }
        if (order != '<' && order != '|' && order != '=') {
            throw new NpyFormatException(source, "dtype descr '" + descr + "' is not a simple NumPy type" + supported());
        }
        for (NpyType t : values()) {
            if (t.descr.substring(1).equals(code)) {
                if (order == '|' && t.byteSize != 1) {
                    break;
                }
                return t;
            }
        }
        throw new NpyFormatException(source, "dtype '" + descr + "' is not supported" + supported());
    }

    private static String supported() {
        return " (supported: '<f4' float32, '<i8' int64, '<i4' int32, '|u1' uint8)";
    }
}
