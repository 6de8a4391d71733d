package ep4j.cli.npy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsEveryType() throws IOException {
        float[] f = {1.5f, -2f, Float.NaN, 0f, 3.25f, Float.NEGATIVE_INFINITY};
        long[] l = {-1, 0, Long.MAX_VALUE, 7};
        int[] i = {Integer.MIN_VALUE, 5, 6};
        byte[] b = {0, (byte) 0xFF, 0x7E, 1};
        Npy.write(dir.resolve("f.npy"), NpyArray.ofFloats(f, 2, 3));
        Npy.write(dir.resolve("l.npy"), NpyArray.ofLongs(l, 4));
        Npy.write(dir.resolve("i.npy"), NpyArray.ofInts(i, 3, 1));
        Npy.write(dir.resolve("b.npy"), NpyArray.ofBytes(b, 1, 2, 2));
        Npy.write(dir.resolve("e.npy"), NpyArray.allocate(NpyType.FLOAT32, 0, 7));

        NpyArray rf = Npy.read(dir.resolve("f.npy"));
        assertEquals(NpyType.FLOAT32, rf.type());
        assertArrayEquals(new long[] {2, 3}, rf.shape());
        assertArrayEquals(f, rf.toFloatArray());
        assertArrayEquals(l, Npy.read(dir.resolve("l.npy")).toLongArray());
        NpyArray ri = Npy.read(dir.resolve("i.npy"));
        assertArrayEquals(new long[] {3, 1}, ri.shape());
        assertArrayEquals(i, ri.toIntArray());
        NpyArray rb = Npy.read(dir.resolve("b.npy"));
        assertEquals("(1, 2, 2)", rb.shapeString());
        assertArrayEquals(b, rb.toByteArray());
        NpyArray re = Npy.read(dir.resolve("e.npy"));
        assertArrayEquals(new long[] {0, 7}, re.shape());
        assertEquals(0, re.numel());
    }

    @Test
    void writesTheHeaderNumpyWrites() throws IOException {
        Path p = dir.resolve("a.npy");
        Npy.write(p, NpyArray.ofFloats(new float[] {1, 2, 3}, 3));
        byte[] bytes = Files.readAllBytes(p);
        // numpy 1.x/2.x: v1.0, header padded so that data starts at a multiple of 64, ends with \n.
        assertEquals((byte) 0x93, bytes[0]);
        assertEquals("NUMPY", new String(bytes, 1, 5, StandardCharsets.US_ASCII));
        assertEquals(1, bytes[6]);
        assertEquals(0, bytes[7]);
        int headerLen = (bytes[8] & 0xFF) | (bytes[9] & 0xFF) << 8;
        assertEquals(0, (10 + headerLen) % 64);
        String header = new String(bytes, 10, headerLen, StandardCharsets.ISO_8859_1);
        assertTrue(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"), header);
        assertTrue(header.endsWith("\n"));
        assertEquals(10 + headerLen + 12, bytes.length);
        ByteBuffer data = ByteBuffer.wrap(bytes, 10 + headerLen, 12).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1f, data.getFloat());
        assertEquals(2f, data.getFloat());
        assertEquals(3f, data.getFloat());
    }

    @Test
    void parsesHeadersAsNumpyWritesThem() {
        Npy.Header h = Npy.parseHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }          \n", "t");
        assertEquals(NpyType.INT64, h.type());
        assertFalse(h.fortranOrder());
        assertArrayEquals(new long[] {2, 3}, h.shape());
        assertArrayEquals(new long[] {5}, Npy.parseHeader("{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }", "t").shape());
        assertArrayEquals(new long[] {}, Npy.parseHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", "t").shape());
        // Key order, quotes, spacing, Python 2 longs, no trailing comma.
        Npy.Header odd = Npy.parseHeader("{\"shape\":(4L,1L),\"fortran_order\":True,\"descr\":\"<i4\"}", "t");
        assertEquals(NpyType.INT32, odd.type());
        assertTrue(odd.fortranOrder());
        assertArrayEquals(new long[] {4, 1}, odd.shape());
    }

    @Test
    void readsVersion2Headers() throws IOException {
        String dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
        int total = (12 + dict.length() + 1 + 63) / 64 * 64;
        ByteBuffer bb = ByteBuffer.allocate(total + 8).order(ByteOrder.LITTLE_ENDIAN);
        bb.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0}).putInt(total - 12);
        bb.put(dict.getBytes(StandardCharsets.ISO_8859_1));
        while (bb.position() < total - 1) {
            bb.put((byte) ' ');
        }
        bb.put((byte) '\n').putInt(42).putInt(-3);
        Path p = dir.resolve("v2.npy");
        Files.write(p, bb.array());
        assertArrayEquals(new int[] {42, -3}, Npy.read(p).toIntArray());
    }

    @Test
    void writesVersion2WhenTheHeaderIsTooLongForVersion1() {
        long[] shape = new long[30000];
        java.util.Arrays.fill(shape, 1);
        byte[] h = Npy.header(NpyType.UINT8, shape);
        assertEquals(2, h[6]);
        assertEquals(0, h.length % 64);
    }

    @Test
    void rejectsFortranOrderWithAClearError() throws IOException {
        Path p = raw("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16);
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(p));
        assertTrue(e.getMessage().contains("fortran.npy"), e.getMessage());
        assertTrue(e.getMessage().contains("'fortran_order' is True (shape (2, 2)), expected False"), e.getMessage());
    }

    @Test
    void rejectsBigEndianWithAClearError() throws IOException {
        Path p = raw("be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8);
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(p));
        assertTrue(e.getMessage().contains("be.npy"), e.getMessage());
        assertTrue(e.getMessage().contains("big-endian"), e.getMessage());
        assertTrue(e.getMessage().contains(">f4"), e.getMessage());
    }

    @Test
    void rejectsUnsupportedTypesTruncationAndGarbage() throws IOException {
        Path f8 = raw("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 8);
        assertTrue(assertThrows(NpyFormatException.class, () -> Npy.read(f8)).getMessage().contains("'<f8' is not supported"));
        Path shortFile = raw("short.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 16);
        assertTrue(assertThrows(NpyFormatException.class, () -> Npy.read(shortFile)).getMessage().contains("truncated"));
        Path junk = dir.resolve("junk.npy");
        Files.writeString(junk, "hello, world");
        assertEquals(junk + ": starts with 'hello, w', expected the .npy magic string \\x93NUMPY (np.save writes it)",
                assertThrows(NpyFormatException.class, () -> Npy.read(junk)).getMessage());
        Path tiny = dir.resolve("tiny.npy");
        Files.write(tiny, new byte[] {(byte) 0x93, 'N'});
        assertTrue(assertThrows(NpyFormatException.class, () -> Npy.read(tiny)).getMessage()
                .startsWith(tiny + ": 2 bytes, expected a .npy file (at least 10 bytes"));
        assertThrows(NpyFormatException.class, () -> Npy.parseHeader("{'descr': '<f4', 'shape': (1,), }", "t"));
        assertThrows(NpyFormatException.class, () -> Npy.parseHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1,x), }", "t"));
        NpyFormatException big = assertThrows(NpyFormatException.class,
                () -> Npy.parseHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (4611686018427387904, 2), }", "t"));
        assertEquals("t: shape (4611686018427387904, 2) of '<i8' is more bytes than a file can hold: expected at most "
                + Long.MAX_VALUE + " bytes", big.getMessage());
    }

    @Test
    void expectNamesTheFileTypeAndShape() {
        NpyArray a = NpyArray.ofFloats(new float[6], 2, 3);
        a.expect("x.npy", NpyType.FLOAT32, -1, 3);
        NpyFormatException shape = assertThrows(NpyFormatException.class, () -> a.expect("x.npy", NpyType.FLOAT32, 2, 4));
        assertEquals("x.npy: shape is (2, 3), expected (2, 4)", shape.getMessage());
        NpyFormatException type = assertThrows(NpyFormatException.class, () -> a.expect("x.npy", NpyType.INT64, 2, 3));
        assertEquals("x.npy: dtype is '<f4', expected '<i8'", type.getMessage());
    }

    private Path raw(String name, String dict, int dataBytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int total = (10 + dict.length() + 1 + 63) / 64 * 64;
        out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (byte) (total - 10), 0});
        out.write(dict.getBytes(StandardCharsets.ISO_8859_1));
        while (out.size() < total - 1) {
            out.write(' ');
        }
        out.write('\n');
        out.write(new byte[dataBytes]);
        Path p = dir.resolve(name);
        Files.write(p, out.toByteArray());
        return p;
    }
}
