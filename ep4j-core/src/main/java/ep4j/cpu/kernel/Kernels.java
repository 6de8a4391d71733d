package ep4j.cpu.kernel;

import ep4j.codec.BFloat16;
import java.lang.foreign.MemorySegment;

/**
 * The float loops of combine over one row of {@code hidden} channels: simple counted loops over
 * Java arrays that the JIT vectorizes. Rows move between memory segments and the arrays with
 * bulk copies.
 */
public final class Kernels {
    private Kernels() {
    }

    /** {@code acc[h] += bf16(row)[h]} for the bf16 row at byte {@code offset} of {@code seg}. */
    public static void addRow(MemorySegment seg, long offset, short[] tmp, float[] acc, int hidden) {
        MemorySegment.copy(seg, Routing.SHORT, offset, tmp, 0, hidden);
        for (int h = 0; h < hidden; h++) {
            acc[h] += Float.intBitsToFloat(tmp[h] << 16);
        }
    }

    /** {@code acc[h] = fma(w, bf16(row)[h], acc[h])} for the bf16 row at byte {@code offset} of {@code seg}. */
    public static void fmaRow(MemorySegment seg, long offset, float w, short[] tmp, float[] acc, int hidden) {
        MemorySegment.copy(seg, Routing.SHORT, offset, tmp, 0, hidden);
        for (int h = 0; h < hidden; h++) {
            acc[h] = Math.fma(w, Float.intBitsToFloat(tmp[h] << 16), acc[h]);
        }
    }

    /** Rounds {@code acc} to bf16 once (round to nearest even) into the row at byte {@code offset} of {@code out}. */
    public static void storeRow(float[] acc, short[] tmp, MemorySegment out, long offset, int hidden) {
        for (int h = 0; h < hidden; h++) {
            tmp[h] = BFloat16.fromFloat(acc[h]);
        }
        MemorySegment.copy(tmp, 0, out, Routing.SHORT, offset, hidden);
    }
}
