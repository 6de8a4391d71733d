package ep4j.cuda.control;

import ep4j.KernelTiming;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaEvent;
import ep4j.cuda.driver.CudaStream;
import java.util.EnumMap;
import java.util.Map;

/**
 * {@link KernelTiming} of one rank: CUDA events around each kernel of the last call when enabled
 * (a {@link StageTimer} the paths mark), and spans over many calls (always available). Events are
 * made at first use, so a buffer that is never timed makes none. Used by the rank's thread.
 */
public final class KernelTimer implements KernelTiming, StageTimer, AutoCloseable {
    private final CudaContext context;
    private final CudaStream stream;
    private final Map<StageTimer.Stage, CudaEvent[]> events = new EnumMap<>(StageTimer.Stage.class);
    private final Map<StageTimer.Stage, Boolean> recorded = new EnumMap<>(StageTimer.Stage.class);
    private volatile boolean enabled;
    private StageTimer.Stage first;
    private StageTimer.Stage last;
    private CudaEvent spanStart;
    private CudaEvent spanEnd;
    private boolean spanStarted;

    public KernelTimer(CudaContext context, CudaStream stream) {
        this.context = context;
        this.stream = stream;
    }

    @Override
    public synchronized void enable() {
        if (enabled) {
            return;
        }
        context.makeCurrent();
        for (StageTimer.Stage s : StageTimer.Stage.values()) {
            if (events.containsKey(s)) {
                continue; // enabled before: its events are still there
            }
            events.put(s, new CudaEvent[] {CudaEvent.create(context, true), CudaEvent.create(context, true)});
            recorded.put(s, false);
        }
        enabled = true;
    }

    @Override
    public synchronized void disable() {
        enabled = false;
        first = null;
        last = null;
    }

    @Override
    public boolean isEnabled() {
        return enabled;
    }

    @Override
    public void call() {
        if (enabled) {
            recorded.replaceAll((k, v) -> false);
            first = null;
            last = null;
        }
    }

    @Override
    public void start(StageTimer.Stage s) {
        if (!enabled) {
            return;
        }
        if (first == null) {
            first = s;
        }
        events.get(s)[0].record(stream);
    }

    @Override
    public void stop(StageTimer.Stage s) {
        if (!enabled) {
            return;
        }
        events.get(s)[1].record(stream);
        recorded.put(s, true);
        last = s;
    }

    @Override
    public double lastMicros(KernelTiming.Stage stage) {
        StageTimer.Stage s = StageTimer.Stage.valueOf(stage.name());
        if (!enabled || !recorded.get(s)) {
            return Double.NaN;
        }
        CudaEvent[] e = events.get(s);
        e[1].synchronize();
        return CudaEvent.elapsedMillis(e[0], e[1]) * 1000.0;
    }

    @Override
    public double lastCallMicros() {
        if (!enabled || first == null || last == null || !recorded.get(first) || !recorded.get(last)) {
            return Double.NaN;
        }
        CudaEvent end = events.get(last)[1];
        end.synchronize();
        return CudaEvent.elapsedMillis(events.get(first)[0], end) * 1000.0;
    }

    @Override
    public synchronized void startSpan() {
        if (spanStart == null) {
            context.makeCurrent();
            spanStart = CudaEvent.create(context, true);
            spanEnd = CudaEvent.create(context, true);
        }
        spanStart.record(stream);
        spanStarted = true;
    }

    @Override
    public synchronized double endSpanMicros() {
        if (!spanStarted) {
            throw new IllegalStateException("KernelTiming.endSpanMicros() without startSpan()");
        }
        spanStarted = false;
        spanEnd.record(stream);
        spanEnd.synchronize();
        return CudaEvent.elapsedMillis(spanStart, spanEnd) * 1000.0;
    }

    @Override
    public synchronized void close() {
        events.values().forEach(pair -> {
            pair[0].close();
            pair[1].close();
        });
        if (spanStart != null) {
            spanStart.close();
            spanEnd.close();
        }
    }
}
