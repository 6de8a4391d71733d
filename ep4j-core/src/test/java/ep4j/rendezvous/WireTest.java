package ep4j.rendezvous;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.rendezvous.Wire.BadFrameException;
import ep4j.rendezvous.Wire.Fields;
import ep4j.rendezvous.Wire.Frame;
import ep4j.rendezvous.Wire.Payload;
import ep4j.rendezvous.Wire.Type;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The frame format: what goes out comes back, and every way a frame can be wrong is refused by name. */
class WireTest {
    static final byte[] DIGEST = Wire.digest("t");

    static byte[] frame(Type type, byte[] payload) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Wire.write(out, DIGEST, type, payload);
        return out.toByteArray();
    }

    static Frame read(byte[] bytes) throws IOException {
        return Wire.read(new ByteArrayInputStream(bytes), DIGEST, () -> { });
    }

    static String refused(byte[] bytes) {
        return assertThrows(BadFrameException.class, () -> read(bytes)).getMessage();
    }

    @Test
    void aFrameComesBackAsItWasWritten() throws IOException {
        byte[] value = {1, 2, 3};
        byte[] bytes = frame(Type.PUT, new Payload().str("rank/0 ключ").bytes(value).build());
        assertEquals(Wire.HEADER_BYTES + 2 + "rank/0 ключ".getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                + 4 + 3, bytes.length);
        Frame f = read(bytes);
        assertEquals(Type.PUT, f.type());
        Fields in = f.fields();
        assertEquals("rank/0 ключ", in.str("key"));
        assertArrayEquals(value, in.bytes("value"));
        in.end();
        assertNull(read(new byte[0]), "a clean end before a frame");
    }

    @Test
    void everyBrokenFrameIsRefusedSayingHow() throws IOException {
        byte[] good = frame(Type.GET, new Payload().str("k").i64(5).build());

        byte[] magic = good.clone();
        magic[0] = 'X';
        assertTrue(refused(magic).contains("not an ep4j rendezvous frame"));
        byte[] version = good.clone();
        version[4] = 9;
        assertTrue(refused(version).contains("protocol version 9"));
        byte[] type = good.clone();
        type[5] = 77;
        assertTrue(refused(type).contains("unknown message type 77"));
        byte[] token = good.clone();
        token[6] ^= 1;
        assertTrue(refused(token).contains("wrong job token"));
        byte[] huge = good.clone();
        huge[38] = 0x7f;
        assertTrue(refused(huge).contains("at most " + Wire.MAX_PAYLOAD));
        byte[] negative = good.clone();
        negative[38] = (byte) 0xff;
        assertTrue(refused(negative).contains("payload of"));
        assertThrows(EOFException.class, () -> read(Arrays.copyOf(good, good.length - 1)), "cut inside the payload");
        assertThrows(EOFException.class, () -> read(Arrays.copyOf(good, 10)), "cut inside the header");
    }

    @Test
    void payloadsAreReadExactly() throws IOException {
        Fields extra = read(frame(Type.GET, new Payload().str("k").i64(5).i32(0).build())).fields();
        extra.str("key");
        extra.i64("timeout");
        assertTrue(assertThrows(BadFrameException.class, extra::end).getMessage().contains("4 bytes past its fields"));

        Fields shortened = read(frame(Type.GET, new Payload().str("k").i32(5).build())).fields();
        shortened.str("key");
        assertTrue(assertThrows(BadFrameException.class, () -> shortened.i64("timeout")).getMessage()
                .contains("ends inside its timeout"));

        byte[] emptyKey = {0, 0};
        assertTrue(assertThrows(BadFrameException.class, () -> read(frame(Type.GET, emptyKey)).fields().str("key"))
                .getMessage().contains("is 0 UTF-8 bytes long"));
        byte[] badUtf8 = {0, 2, (byte) 0xc3, (byte) 0x28};
        assertTrue(assertThrows(BadFrameException.class, () -> read(frame(Type.BARRIER, badUtf8)).fields().str("name"))
                .getMessage().contains("not UTF-8"));
        byte[] control = {0, 1, 7};
        assertTrue(assertThrows(BadFrameException.class, () -> read(frame(Type.BARRIER, control)).fields().str("name"))
                .getMessage().contains("control character"));
        byte[] bigValue = new Payload().i32(Wire.MAX_VALUE_BYTES + 1).build();
        assertTrue(assertThrows(BadFrameException.class, () -> read(frame(Type.VALUE, bigValue)).fields().bytes("value"))
                .getMessage().contains("at most " + Wire.MAX_VALUE_BYTES));
    }

    @Test
    void messagesAreMadeToFit() throws IOException {
        String longMessage = "é".repeat(2000) + "\n";
        Fields in = read(frame(Type.ERROR, new Payload().str(longMessage).build())).fields();
        String back = in.str("message");
        assertTrue(back.length() > 100 && back.length() < 2000 && back.chars().allMatch(c -> c == 'é'), back);
        assertEquals(null, Wire.keyProblem("ok/key"));
        assertEquals("is 0 UTF-8 bytes long", Wire.keyProblem(""));
    }
}
