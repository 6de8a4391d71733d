package ep4j.cuda;

import ep4j.EpBuffer;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaEvent;
import ep4j.cuda.driver.CudaStream;
import java.util.EnumMap;
import java.util.Map;

/**
 * GPU time of each kernel of the last call, from CUDA events around the launches: what the
 * benchmark reports next to wall-clock time (DeepEP's figures are kernel times). Off unless
 * enabled, so the hot path records nothing extra. Users reach it through
 * {@link ep4j.EpBuffer#kernelTiming()} ({@link CudaKernelTiming}).
 */
final class KernelTimer implements AutoCloseable {
    /** The kernels timed. */
    public enum Stage { LAYOUT, NOTIFY, DISPATCH, COMBINE }

    private final Map<Stage, CudaEvent[]> events = new EnumMap<>(Stage.class);
    private final Map<Stage, Boolean> recorded = new EnumMap<>(Stage.class);
    private final long[] phaseNanos = new long[32];
    private final String[] phaseNames = new String[32];
    private int phases;
    /** The first stage started and the last stage stopped since {@link #reset()}: the call's span. */
    private Stage first;
    private Stage last;

    KernelTimer(CudaContext context) {
        for (Stage s : Stage.values()) {
            events.put(s, new CudaEvent[] {CudaEvent.create(context, true), CudaEvent.create(context, true)});
            recorded.put(s, false);
        }
    }

    /** Host-side phases of the last traced call, as "name +us" steps from its start (for kernel work). */
    static String lastHostPhases(EpBuffer buffer) {
        if (!(buffer instanceof CudaBuffer b) || b.timer() == null) {
            return "";
        }
        KernelTimer t = b.timer();
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i < t.phases; i++) {
            sb.append(String.format("%s %+.1f ", t.phaseNames[i], (t.phaseNanos[i] - t.phaseNanos[i - 1]) / 1e3));
        }
        return sb.toString().trim();
    }

    /** The buffer's memory pool statistics (for kernel work). */
    static String poolStats(EpBuffer buffer) {
        return buffer instanceof CudaBuffer b ? b.pool().stats() : "";
    }

    void phase(String name) {
        if (name == null) {
            phases = 0;
            name = "start";
        }
        if (phases < phaseNanos.length) {
            phaseNames[phases] = name;
            phaseNanos[phases++] = System.nanoTime();
        }
    }

    /** Forgets the stages of the previous call, so a span never mixes two calls. */
    void reset() {
        recorded.replaceAll((k, v) -> false);
        first = null;
        last = null;
    }

    void start(Stage s, CudaStream stream) {
        events.get(s)[0].record(stream);
        if (first == null) {
            first = s;
        }
    }

    void stop(Stage s, CudaStream stream) {
        events.get(s)[1].record(stream);
        recorded.put(s, true);
        last = s;
    }

    /** From the start of the call's first kernel to the end of its last; NaN when it ran none. */
    double callSpan() {
        return first == null || last == null ? Double.NaN : span(first, last);
    }

    double micros(Stage s) {
        if (!recorded.get(s)) {
            return Double.NaN;
        }
        CudaEvent[] e = events.get(s);
        e[1].synchronize();
        return CudaEvent.elapsedMillis(e[0], e[1]) * 1000.0;
    }

    double span(Stage first, Stage last) {
        if (!recorded.get(first) || !recorded.get(last)) {
            return Double.NaN;
        }
        CudaEvent end = events.get(last)[1];
        end.synchronize();
        return CudaEvent.elapsedMillis(events.get(first)[0], end) * 1000.0;
    }

    @Override
    public void close() {
        events.values().forEach(pair -> {
            pair[0].close();
            pair[1].close();
        });
    }
}
