package ep4j.cpu.mp;

import ep4j.Tensor;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The outputs of one rank's scenario, by name and in call order, as raw bytes: what is compared
 * bit for bit between a single-JVM group and a multi-process one (and written to a file by a
 * child JVM).
 */
final class Outputs {
    private final Map<String, byte[]> parts = new LinkedHashMap<>();

    void add(String name, byte[] bytes) {
        if (parts.putIfAbsent(name, bytes.clone()) != null) {
            throw new IllegalArgumentException("output " + name + " recorded twice");
        }
    }

    void add(String name, Tensor t) {
        add(name, t.segment().toArray(ValueLayout.JAVA_BYTE));
    }

    void add(String name, int[] values) {
        byte[] b = new byte[values.length * 4];
        java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).asIntBuffer().put(values);
        add(name, b);
    }

    Map<String, byte[]> parts() {
        return parts;
    }

    void writeTo(OutputStream out) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        d.writeInt(parts.size());
        for (var e : parts.entrySet()) {
            d.writeUTF(e.getKey());
            d.writeInt(e.getValue().length);
            d.write(e.getValue());
        }
        d.flush();
    }

    static Outputs readFrom(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        Outputs o = new Outputs();
        int n = d.readInt();
        for (int i = 0; i < n; i++) {
            String name = d.readUTF();
            byte[] b = new byte[d.readInt()];
            d.readFully(b);
            o.add(name, b);
        }
        return o;
    }

    /** Null when {@code other} holds exactly the same outputs, else the first difference, named. */
    String difference(Outputs other) {
        if (!parts.keySet().equals(other.parts.keySet())) {
            return "outputs " + parts.keySet() + " vs " + other.parts.keySet();
        }
        for (var e : parts.entrySet()) {
            byte[] a = e.getValue();
            byte[] b = other.parts.get(e.getKey());
            int at = Arrays.mismatch(a, b);
            if (at >= 0) {
                return e.getKey() + " differs at byte " + at + " of " + a.length + " (vs " + b.length + " bytes)";
            }
        }
        return null;
    }

    /** How many bytes in all (so a test can say what it compared). */
    long bytes() {
        return parts.values().stream().mapToLong(b -> b.length).sum();
    }
}
