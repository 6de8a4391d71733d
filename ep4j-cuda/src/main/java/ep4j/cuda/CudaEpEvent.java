package ep4j.cuda;

import ep4j.EpEvent;
import ep4j.cuda.driver.CudaEvent;

/** Completion of an async call: a CUDA event on the rank's stream, then the device error check. */
final class CudaEpEvent implements EpEvent {
    private final CudaEvent event;
    private final Runnable onComplete;
    private volatile boolean checked;

    CudaEpEvent(CudaEvent event, Runnable onComplete) {
        this.event = event;
        this.onComplete = onComplete;
    }

    CudaEvent cudaEvent() {
        return event;
    }

    @Override
    public void await() {
        event.synchronize();
        if (!checked) {
            checked = true;
            onComplete.run();
        }
    }

    @Override
    public boolean isComplete() {
        return event.isComplete();
    }
}
