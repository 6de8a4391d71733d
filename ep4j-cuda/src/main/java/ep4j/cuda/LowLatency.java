package ep4j.cuda;

import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.LowLatencyHandle;
import ep4j.Tensor;

/**
 * The low-latency (decoding) path of one rank's buffer: fixed-size, double-buffered receive
 * regions mapped into every peer, send-only kernels and receive hooks. Not implemented yet on
 * the GPU: the CPU backend has the full semantics.
 */
final class LowLatency implements AutoCloseable {
    private final CudaBuffer buffer;

    LowLatency(CudaBuffer buffer) {
        this.buffer = buffer;
    }

    LowLatencyDispatched dispatch(LowLatencyDispatchArgs args, int localExperts) {
        throw new UnsupportedOperationException(
                "low-latency dispatch is not implemented on the CUDA backend yet (rank " + buffer.rank()
                        + "); the CPU backend has it");
    }

    LowLatencyCombined combine(LowLatencyCombineArgs args) {
        throw new UnsupportedOperationException(
                "low-latency combine is not implemented on the CUDA backend yet (rank " + buffer.rank() + ")");
    }

    Tensor combineInput(LowLatencyHandle handle) {
        throw new UnsupportedOperationException("low-latency zero-copy is not implemented on the CUDA backend yet");
    }

    @Override
    public void close() {
    }
}
