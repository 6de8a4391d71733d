package ep4j.check;

import ep4j.DType;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import java.util.Arrays;

/** Argument checks that name the argument, the value and what was expected. */
public final class Checks {
    private Checks() {
    }

    public static Tensor present(String name, Tensor t) {
        if (t == null) {
            throw new InvalidArgumentException(name, null, "a tensor");
        }
        if (t.isClosed()) {
            throw new InvalidArgumentException(name, t, "an open tensor (it was closed)");
        }
        return t;
    }

    public static Tensor dtype(String name, Tensor t, DType... allowed) {
        present(name, t);
        for (DType d : allowed) {
            if (t.dtype() == d) {
                return t;
            }
        }
        throw new InvalidArgumentException(name + ".dtype", t.dtype(),
                allowed.length == 1 ? allowed[0].name() : "one of " + Arrays.toString(allowed));
    }

    /** Checks the shape; a negative entry in {@code expected} matches any size. */
    public static Tensor shape(String name, Tensor t, long... expected) {
        present(name, t);
        long[] shape = t.shape();
        boolean ok = shape.length == expected.length;
        for (int i = 0; ok && i < shape.length; i++) {
            ok = expected[i] < 0 || expected[i] == shape[i];
        }
        if (!ok) {
            throw new InvalidArgumentException(name + ".shape", Arrays.toString(shape), describe(expected));
        }
        return t;
    }

    public static Tensor device(String name, Tensor t, int device) {
        if (t.device() != device) {
            throw new InvalidArgumentException(name + ".device", where(t.device()), where(device) + " (this rank's memory)");
        }
        return t;
    }

    public static int positive(String name, int value) {
        if (value <= 0) {
            throw new InvalidArgumentException(name, value, "a value > 0");
        }
        return value;
    }

    public static int atMost(String name, long value, long max, String what) {
        if (value > max) {
            throw new InvalidArgumentException(name, value, "at most " + max + " (" + what + ")");
        }
        return (int) value;
    }

    private static String where(int device) {
        return device == Tensor.HOST ? "host" : "cuda:" + device;
    }

    private static String describe(long[] expected) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < expected.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(expected[i] < 0 ? "*" : Long.toString(expected[i]));
        }
        return sb.append("]").toString();
    }
}
