package ep4j.cli.npy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes NumPy {@code .npy} files (format versions 1.0, 2.0 and 3.0 read; 1.0 written,
 * or 2.0 when the header needs it), C order, little-endian, of the types in {@link NpyType}.
 * Fortran-ordered and big-endian arrays are refused with a message saying how to convert them.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** Data chunk of one channel read or write (a ByteBuffer holds at most 2 GiB). */
    private static final long CHUNK = 1L << 30;

    private Npy() {
    }

    /** What a header says. */
    public record Header(NpyType type, boolean fortranOrder, long[] shape) {
        public long numel() {
            return NpyArray.numelOf(shape);
        }

        public long dataBytes() {
            return numel() * type.byteSize();
        }
    }

    public static NpyArray read(Path path) throws IOException {
        String source = path.toString();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            if (ch.size() < 10) {
                throw new NpyFormatException(source, ch.size() + " bytes, expected a .npy file (at least 10 bytes:"
                        + " the \\x93NUMPY magic string, the version and the header length); truncated file?");
            }
            ByteBuffer pre = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, pre, source, "the magic string and version");
            pre.flip();
            for (byte b : MAGIC) {
                if (pre.get() != b) {
                    throw new NpyFormatException(source, "starts with " + printable(pre.array(), 8)
                            + ", expected the .npy magic string \\x93NUMPY"
                            + (pre.get(0) == 'P' && pre.get(1) == 'K' ? " (this is a zip archive: a .npz? np.save each"
                                    + " array to its own .npy file)" : " (np.save writes it)"));
                }
            }
            int major = pre.get() & 0xFF;
            int minor = pre.get() & 0xFF;
            long headerLen;
            long dataStart;
            if (major == 1) {
                headerLen = pre.getShort() & 0xFFFF;
                dataStart = 10 + headerLen;
            } else if (major == 2 || major == 3) {
                ByteBuffer more = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, more, source, "the header length");
                more.flip();
                headerLen = ((pre.getShort() & 0xFFFFL) | ((more.getShort() & 0xFFFFL) << 16));
                dataStart = 12 + headerLen;
            } else {
                throw new NpyFormatException(source, "format version " + major + "." + minor
                        + " is not supported (1.0, 2.0 and 3.0 are)");
            }
            if (headerLen > 1 << 24) {
                throw new NpyFormatException(source, "header length " + headerLen + " is implausible");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, source, "the header");
            String text = new String(hb.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            Header h = parseHeader(text, source);
            if (h.fortranOrder() && h.shape().length > 1) {
                throw new NpyFormatException(source, "'fortran_order' is True (shape " + shapeTuple(h.shape())
                        + "), expected False: save a C-ordered copy with np.save(path, np.ascontiguousarray(arr))");
            }
            long available = ch.size() - dataStart;
            if (available != h.dataBytes()) {
                throw new NpyFormatException(source, "holds " + available + " data bytes, but shape "
                        + shapeTuple(h.shape()) + " of '" + h.type().descr() + "' needs " + h.dataBytes()
                        + (available >= h.dataBytes() ? " (trailing bytes)"
                                : available * 2 < h.dataBytes() ? " (a wrong shape in the header, or a truncated file?)"
                                : " (truncated file?)"));
            }
            NpyArray array = NpyArray.allocate(h.type(), h.shape());
            MemorySegment data = array.data();
            for (long off = 0; off < data.byteSize(); off += CHUNK) {
                ByteBuffer bb = data.asSlice(off, Math.min(CHUNK, data.byteSize() - off)).asByteBuffer();
                readFully(ch, bb, source, "the data");
            }
            return array;
        }
    }

    /** The first bytes of a file as a quoted Python-style literal: {@code 'PK\x03\x04'}. */
    private static String printable(byte[] bytes, int n) {
        StringBuilder sb = new StringBuilder("'");
        for (int i = 0; i < Math.min(n, bytes.length); i++) {
            int b = bytes[i] & 0xFF;
            boolean plain = b >= 0x20 && b < 0x7F && b != '\\' && b != '\'';
            sb.append(plain ? String.valueOf((char) b) : String.format(java.util.Locale.ROOT, "\\x%02x", b));
        }
        return sb.append('\'').toString();
    }

    private static void readFully(FileChannel ch, ByteBuffer bb, String source, String what) throws IOException {
        long needed = ch.position() + bb.remaining();
        while (bb.hasRemaining()) {
            if (ch.read(bb) < 0) {
                throw new NpyFormatException(source, ch.size() + " bytes, but " + what + " ends at byte " + needed
                        + " (truncated file?)");
            }
        }
    }

    /** Writes {@code array} to {@code path} (replacing it), creating parent directories. */
    public static void write(Path path, NpyArray array) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        byte[] header = header(array.type(), array.shape());
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer hb = ByteBuffer.wrap(header);
            while (hb.hasRemaining()) {
                ch.write(hb);
            }
            MemorySegment data = array.data();
            for (long off = 0; off < data.byteSize(); off += CHUNK) {
                ByteBuffer bb = data.asSlice(off, Math.min(CHUNK, data.byteSize() - off)).asByteBuffer();
                while (bb.hasRemaining()) {
                    ch.write(bb);
                }
            }
        }
    }

    /** The full preamble (magic, version, length, header dict padded to 64 bytes, newline). */
    static byte[] header(NpyType type, long[] shape) {
        String dict = "{'descr': '" + type.descr() + "', 'fortran_order': False, 'shape': " + shapeTuple(shape) + ", }";
        for (int version = 1; version <= 2; version++) {
            int pre = version == 1 ? 10 : 12;
            int unpadded = pre + dict.length() + 1;
            int total = (unpadded + 63) / 64 * 64;
            int headerLen = total - pre;
            if (version == 1 && headerLen > 0xFFFF) {
                continue;
            }
            ByteBuffer bb = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
            bb.put(MAGIC).put((byte) version).put((byte) 0);
            if (version == 1) {
                bb.putShort((short) headerLen);
            } else {
                bb.putInt(headerLen);
            }
            bb.put(dict.getBytes(StandardCharsets.ISO_8859_1));
            while (bb.position() < total - 1) {
                bb.put((byte) ' ');
            }
            bb.put((byte) '\n');
            return bb.array();
        }
        throw new IllegalArgumentException("shape too long for a .npy header");
    }

    /** A shape as a Python tuple: {@code (3, 4)}, {@code (3,)}, {@code ()}. */
    public static String shapeTuple(long[] shape) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i > 0 ? ", " : "").append(shape[i]);
        }
        return sb.append(shape.length == 1 ? ",)" : ")").toString();
    }

    /**
     * Parses the header dict, a Python literal such as
     * {@code {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }}.
     */
    public static Header parseHeader(String text, String source) {
        Map<String, Object> dict = new DictParser(text, source).parse();
        for (String key : List.of("descr", "fortran_order", "shape")) {
            if (!dict.containsKey(key)) {
                throw new NpyFormatException(source, "header has no '" + key + "' key: " + text.strip());
            }
        }
        if (!(dict.get("descr") instanceof String descr)) {
            throw new NpyFormatException(source, "'descr' is " + dict.get("descr")
                    + ", not a simple type string (structured dtypes are not supported)");
        }
        if (!(dict.get("fortran_order") instanceof Boolean fortran)) {
            throw new NpyFormatException(source, "'fortran_order' is " + dict.get("fortran_order") + ", not True/False");
        }
        if (!(dict.get("shape") instanceof long[] shape)) {
            throw new NpyFormatException(source, "'shape' is " + dict.get("shape") + ", not a tuple of integers");
        }
        NpyType type = NpyType.ofDescr(descr, source);
        long bytes = type.byteSize();
        for (long d : shape) {
            try {
                bytes = Math.multiplyExact(bytes, d);
            } catch (ArithmeticException e) {
                throw new NpyFormatException(source, "shape " + shapeTuple(shape) + " of '" + type.descr() + "' is more"
                        + " bytes than a file can hold: expected at most " + Long.MAX_VALUE + " bytes");
            }
        }
        return new Header(type, fortran, shape);
    }

    /** The little Python-literal subset .npy headers use: a dict of strings, booleans and int tuples. */
    private static final class DictParser {
        private final String s;
        private final String source;
        private int pos;

        DictParser(String s, String source) {
            this.s = s;
            this.source = source;
        }

        Map<String, Object> parse() {
            Map<String, Object> out = new LinkedHashMap<>();
            expect('{');
            while (true) {
                skipSpace();
                if (peek() == '}') {
                    pos++;
                    break;
                }
                Object key = value();
                if (!(key instanceof String k)) {
                    throw fail("a string key");
                }
                expect(':');
                out.put(k, value());
                skipSpace();
                if (peek() == ',') {
                    pos++;
                } else if (peek() != '}') {
                    throw fail("',' or '}'");
                }
            }
            skipSpace();
            if (pos != s.length()) {
                throw fail("the end of the header");
            }
            return out;
        }

        private Object value() {
            skipSpace();
            char c = peek();
            if (c == '\'' || c == '"') {
                int end = s.indexOf(c, pos + 1);
                if (end < 0) {
                    throw fail("a closing quote");
                }
                String v = s.substring(pos + 1, end);
                pos = end + 1;
                return v;
            }
            if (c == '(') {
                pos++;
                List<Long> dims = new ArrayList<>();
                while (true) {
                    skipSpace();
                    if (peek() == ')') {
                        pos++;
                        break;
                    }
                    int start = pos;
                    while (pos < s.length() && Character.isDigit(s.charAt(pos))) {
                        pos++;
                    }
                    if (start == pos) {
                        throw fail("a dimension");
                    }
                    String digits = s.substring(start, pos);
                    try {
                        dims.add(Long.parseLong(digits));
                    } catch (NumberFormatException e) {
                        throw new NpyFormatException(source, "dimension " + digits + " in the header is too large:"
                                + " expected at most " + Long.MAX_VALUE);
                    }
                    if (pos < s.length() && s.charAt(pos) == 'L') {
                        pos++;
                    }
                    skipSpace();
                    if (peek() == ',') {
                        pos++;
                    } else if (peek() != ')') {
                        throw fail("',' or ')'");
                    }
                }
                return dims.stream().mapToLong(Long::longValue).toArray();
            }
            for (String word : List.of("True", "False")) {
                if (s.startsWith(word, pos)) {
                    pos += word.length();
                    return word.equals("True");
                }
            }
            // Anything else (a list, a nested dict) is read as an opaque token for the error message.
            int start = pos;
            int depth = 0;
            while (pos < s.length()) {
                char ch = s.charAt(pos);
                if (ch == '[' || ch == '{') {
                    depth++;
                } else if (ch == ']' || ch == '}') {
                    if (depth == 0) {
                        break;
                    }
                    depth--;
                } else if (ch == ',' && depth == 0) {
                    break;
                }
                pos++;
            }
            if (start == pos) {
                throw fail("a value");
            }
            return s.substring(start, pos).strip();
        }

        private void expect(char c) {
            skipSpace();
            if (peek() != c) {
                throw fail("'" + c + "'");
            }
            pos++;
        }

        private char peek() {
            return pos < s.length() ? s.charAt(pos) : '\0';
        }

        private void skipSpace() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        private NpyFormatException fail(String expected) {
            return new NpyFormatException(source, "malformed header at character " + pos + ": expected " + expected
                    + " in " + s.strip());
        }
    }
}
