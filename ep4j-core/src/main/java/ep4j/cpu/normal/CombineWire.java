package ep4j.cpu.normal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.jspecify.annotations.Nullable;

/**
 * What a rank sends for a normal combine, as bytes in its normal region: its expert outputs
 * {@code [rows, H]} bf16 and, optionally, weights {@code [rows, K]} float32.
 *
 * <pre>
 *   0  long rows    8 int topk (0: no weights)    12 int hidden
 *   64 x[rows * 2H], then weights[rows * K] (64-byte aligned)
 * </pre>
 */
final class CombineWire {
    private static final long HEADER = 64;

    private CombineWire() {
    }

    /** One rank's combine input, read back as slices of its region. */
    record Post(MemorySegment x, @Nullable MemorySegment weights) {
    }

    private static long weightsAt(long rows, int hidden) {
        return (HEADER + rows * 2L * hidden + 63) & ~63L;
    }

    /** The bytes a combine of {@code rows} rows takes in a region. */
    static long bytes(long rows, int hidden, int topk) {
        return weightsAt(rows, hidden) + rows * 4L * topk;
    }

    /** Writes {@code x} (and {@code weights}, {@code [rows, topk]}) at the start of {@code region}. */
    static void write(MemorySegment region, MemorySegment x, @Nullable MemorySegment weights, long rows, int hidden,
            int topk) {
        region.set(ValueLayout.JAVA_LONG, 0, rows);
        region.set(ValueLayout.JAVA_INT, 8, weights == null ? 0 : topk);
        region.set(ValueLayout.JAVA_INT, 12, hidden);
        MemorySegment.copy(x, 0, region, HEADER, rows * 2L * hidden);
        if (weights != null) {
            MemorySegment.copy(weights, 0, region, weightsAt(rows, hidden), rows * 4L * topk);
        }
    }

    /** The combine input at the start of {@code region}. */
    static Post read(MemorySegment region) {
        long rows = region.get(ValueLayout.JAVA_LONG, 0);
        int topk = region.get(ValueLayout.JAVA_INT, 8);
        int hidden = region.get(ValueLayout.JAVA_INT, 12);
        MemorySegment x = region.asSlice(HEADER, rows * 2L * hidden);
        MemorySegment w = topk == 0 ? null : region.asSlice(weightsAt(rows, hidden), rows * 4L * topk);
        return new Post(x, w);
    }
}
