package ep4j.cuda;

import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaEvent;
import ep4j.cuda.driver.CudaStream;

/**
 * Device time of a span of calls on one rank's stream: an event at {@link #start()}, one at
 * {@link #endMicros()}, the elapsed time between them (KernelTiming's spans).
 */
final class SpanTimer implements AutoCloseable {
    private final CudaStream stream;
    private final CudaEvent start;
    private final CudaEvent end;
    private boolean started;

    SpanTimer(CudaContext context, CudaStream stream) {
        this.stream = stream;
        this.start = CudaEvent.create(context, true);
        this.end = CudaEvent.create(context, true);
    }

    synchronized void start() {
        start.record(stream);
        started = true;
    }

    synchronized double endMicros() {
        if (!started) {
            throw new IllegalStateException("KernelTiming.endSpanMicros() without startSpan()");
        }
        started = false;
        end.record(stream);
        end.synchronize();
        return CudaEvent.elapsedMillis(start, end) * 1000.0;
    }

    @Override
    public void close() {
        start.close();
        end.close();
    }
}
