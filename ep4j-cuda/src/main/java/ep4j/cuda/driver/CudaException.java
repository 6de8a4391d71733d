package ep4j.cuda.driver;

import ep4j.EpException;

/** A CUDA driver call returned a non-zero {@code CUresult}; the message names the call and the error. */
public class CudaException extends EpException {
    private static final long serialVersionUID = 1L;

    private final int result;

    public CudaException(String message, int result) {
        super(message);
        this.result = result;
    }

    /** The raw {@code CUresult} (e.g. 2 for {@code CUDA_ERROR_OUT_OF_MEMORY}). */
    public int result() {
        return result;
    }

    /** The symbolic name of {@link #result()}, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
    public String errorName() {
        return Driver.errorName(result);
    }
}
