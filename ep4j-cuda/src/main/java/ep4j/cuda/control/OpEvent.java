package ep4j.cuda.control;

import ep4j.EpEvent;
import ep4j.cuda.driver.CudaEvent;

/**
 * Completion of an asynchronous operation: a CUDA event on the rank's stream (for other streams
 * to wait on), and the op's call record (for the host: {@link #await()} polls its stamp, then
 * raises what the kernels recorded).
 */
final class OpEvent implements EpEvent {
    private final CudaEvent event;
    private final CallRecords.Op op;
    private final RankRuntime runtime;

    OpEvent(CudaEvent event, CallRecords.Op op, RankRuntime runtime) {
        this.event = event;
        this.op = op;
        this.runtime = runtime;
    }

    CudaEvent cudaEvent() {
        return event;
    }

    @Override
    public void await() {
        runtime.await(op);
    }

    @Override
    public boolean isComplete() {
        return op.isComplete();
    }
}
