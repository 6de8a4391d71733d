package ep4j.rendezvous;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.jspecify.annotations.Nullable;

/**
 * The rendezvous wire format: one frame per message, both ways, big-endian.
 *
 * <pre>
 * offset  size  field
 *      0     4  magic "EP4R" (0x45503452)
 *      4     1  version (1)
 *      5     1  type ({@link Type})
 *      6    32  the job's token digest ({@link #digest}): every frame carries it, both ways
 *     38     4  payload length, 0 to {@link #MAX_PAYLOAD}
 *     42     n  payload: fields of the type, in order; nothing may follow them
 * </pre>
 *
 * Payload fields: {@code i32}, {@code i64}; {@code str} = u16 length + UTF-8 (well-formed, 1 to
 * {@link #MAX_KEY_BYTES} bytes, no control characters); {@code bytes} = i32 length + bytes (0 to
 * {@link #MAX_VALUE_BYTES}).
 */
final class Wire {
    /** "EP4R". */
    static final int MAGIC = 0x45503452;
    static final int VERSION = 1;
    static final int DIGEST_BYTES = 32;
    static final int HEADER_BYTES = 4 + 1 + 1 + DIGEST_BYTES + 4;
    /** A key or barrier name, in UTF-8 bytes. */
    static final int MAX_KEY_BYTES = 1024;
    /** A value (Rendezvous#put). */
    static final int MAX_VALUE_BYTES = 64 * 1024;
    /** The largest payload: a put of the largest key and value. */
    static final int MAX_PAYLOAD = 2 + MAX_KEY_BYTES + 4 + MAX_VALUE_BYTES;

    /** What a frame says; requests go to rank 0's store, replies come back. */
    enum Type {
        /** Request: i32 rank, i32 size (the first frame of a connection). */
        HELLO,
        /** Reply to HELLO: 16 bytes, the store's random id (part of the job id). */
        WELCOME,
        /** Request: str key, bytes value. */
        PUT,
        /** Request: str key, i64 timeout in ms (the store waits that long for the key). */
        GET,
        /** Request: str name, i64 timeout in ms. */
        BARRIER,
        /** Request: this rank leaves (empty). */
        BYE,
        /** Reply: done (empty). */
        OK,
        /** Reply to GET: bytes value. */
        VALUE,
        /** Reply to GET or BARRIER: i32 count, then that many i32 ranks that did not arrive (none for GET). */
        TIMEOUT,
        /** Reply: str message (the request was refused; the store says why). */
        ERROR;

        static Type of(int code) throws BadFrameException {
            Type[] all = values();
            if (code < 0 || code >= all.length) {
                throw new BadFrameException("unknown message type " + code);
            }
            return all[code];
        }
    }

    /** A frame that breaks the format or carries another job's token; the connection is dropped. */
    static final class BadFrameException extends IOException {
        private static final long serialVersionUID = 1L;

        BadFrameException(String message) {
            super(message);
        }
    }

    /** Something to do that may fail with an I/O error. */
    @FunctionalInterface
    interface IoAction {
        void run() throws IOException;
    }

    /** A decoded frame. */
    record Frame(Type type, byte[] payload) {
        Fields fields() {
            return new Fields(type, payload);
        }
    }

    private Wire() {
    }

    /**
     * The 32 bytes every frame carries for the job's token: SHA-256 of a fixed prefix and the
     * token. It keeps the token itself off the wire; it is no encryption.
     */
    static byte[] digest(String token) {
        return sha256("ep4j rendezvous token\0" + token);
    }

    static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    /** Writes one frame and flushes. */
    static void write(OutputStream out, byte[] digest, Type type, byte[] payload) throws IOException {
        if (payload.length > MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + payload.length + " bytes: at most " + MAX_PAYLOAD);
        }
        DataOutputStream data = new DataOutputStream(out);
        data.writeInt(MAGIC);
        data.writeByte(VERSION);
        data.writeByte(type.ordinal());
        data.write(digest);
        data.writeInt(payload.length);
        data.write(payload);
        data.flush();
    }

    /**
     * Reads one frame. Returns null at a clean end of stream (before the first byte of a frame).
     *
     * @param onFirstByte runs once the frame's first byte has arrived (to bound the rest of the frame)
     * @throws BadFrameException the frame breaks the format or carries another digest
     * @throws EOFException      the stream ended inside a frame
     */
    static @Nullable Frame read(InputStream in, byte[] digest, IoAction onFirstByte) throws IOException {
        int first = in.read();
        if (first < 0) {
            return null;
        }
        onFirstByte.run();
        DataInputStream data = new DataInputStream(in);
        int magic = first << 24 | data.readUnsignedByte() << 16 | data.readUnsignedShort();
        if (magic != MAGIC) {
            throw new BadFrameException("not an ep4j rendezvous frame (magic 0x" + Integer.toHexString(magic) + ")");
        }
        int version = data.readUnsignedByte();
        if (version != VERSION) {
            throw new BadFrameException("protocol version " + version + ", expected " + VERSION);
        }
        Type type = Type.of(data.readUnsignedByte());
        byte[] seen = new byte[DIGEST_BYTES];
        data.readFully(seen);
        if (!MessageDigest.isEqual(seen, digest)) {
            throw new BadFrameException("wrong job token (EP4J_JOB_TOKEN differs)");
        }
        int length = data.readInt();
        if (length < 0 || length > MAX_PAYLOAD) {
            throw new BadFrameException("payload of " + Integer.toUnsignedString(length) + " bytes, at most "
                    + MAX_PAYLOAD);
        }
        byte[] payload = new byte[length];
        data.readFully(payload);
        return new Frame(type, payload);
    }

    /** Builds a payload. */
    static final class Payload {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final DataOutputStream out = new DataOutputStream(bytes);

        Payload i32(int v) {
            try {
                out.writeInt(v);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return this;
        }

        Payload i64(long v) {
            try {
                out.writeLong(v);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return this;
        }

        /** A key or name (the caller checked it with {@link #keyProblem}), or a message: made to fit. */
        Payload str(String s) {
            String t = s.isEmpty() ? "-" : s.replaceAll("\\p{Cntrl}", " ");
            byte[] b = t.getBytes(StandardCharsets.UTF_8);
            while (b.length > MAX_KEY_BYTES) {
                t = t.substring(0, t.length() * 3 / 4);
                b = t.getBytes(StandardCharsets.UTF_8);
            }
            try {
                out.writeShort(b.length);
                out.write(b);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return this;
        }

        Payload bytes(byte[] b) {
            try {
                out.writeInt(b.length);
                out.write(b);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            return this;
        }

        byte[] build() {
            return bytes.toByteArray();
        }
    }

    /** Reads a payload's fields; every read is checked against what is left. */
    static final class Fields {
        private final Type type;
        private final ByteBuffer buf;

        Fields(Type type, byte[] payload) {
            this.type = type;
            this.buf = ByteBuffer.wrap(payload);
        }

        private void need(int n, String what) throws BadFrameException {
            if (buf.remaining() < n) {
                throw new BadFrameException(type + " payload ends inside its " + what);
            }
        }

        int i32(String what) throws BadFrameException {
            need(4, what);
            return buf.getInt();
        }

        long i64(String what) throws BadFrameException {
            need(8, what);
            return buf.getLong();
        }

        String str(String what) throws BadFrameException {
            need(2, what);
            int n = Short.toUnsignedInt(buf.getShort());
            need(n, what);
            byte[] b = new byte[n];
            buf.get(b);
            try {
                String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
                String bad = keyProblem(s);
                if (bad != null) {
                    throw new BadFrameException(type + " " + what + " " + bad + ", expected 1 to " + MAX_KEY_BYTES
                            + " UTF-8 bytes without control characters");
                }
                return s;
            } catch (CharacterCodingException e) {
                throw new BadFrameException(type + " " + what + " is not UTF-8");
            }
        }

        byte[] bytes(String what) throws BadFrameException {
            int n = i32(what + " length");
            if (n < 0 || n > MAX_VALUE_BYTES) {
                throw new BadFrameException(type + " " + what + " of " + n + " bytes, at most " + MAX_VALUE_BYTES);
            }
            need(n, what);
            byte[] b = new byte[n];
            buf.get(b);
            return b;
        }

        /** The payload was read whole. */
        void end() throws BadFrameException {
            if (buf.hasRemaining()) {
                throw new BadFrameException(type + " payload has " + buf.remaining() + " bytes past its fields");
            }
        }
    }

    /** What is wrong with a key or barrier name ("is 0 UTF-8 bytes long"), or null: 1 to 1024 UTF-8 bytes, no control characters. */
    static @Nullable String keyProblem(String key) {
        int n = key.getBytes(StandardCharsets.UTF_8).length;
        if (n == 0 || n > MAX_KEY_BYTES) {
            return "is " + n + " UTF-8 bytes long";
        }
        if (key.chars().anyMatch(Character::isISOControl)) {
            return "has a control character";
        }
        return null;
    }
}
