package ep4j.cuda.driver;

import ep4j.EpException;

/**
 * The CUDA driver cannot be used on this machine (no libcuda, cuInit failed, no device, or the
 * kernels were not built); the message is the reason, as {@link Driver#unavailableReason()} gives it.
 */
public class CudaUnavailableException extends EpException {
    private static final long serialVersionUID = 1L;

    public CudaUnavailableException(String reason) {
        super(reason);
    }

    public CudaUnavailableException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
