package ep4j;

/**
 * A sequence of calls of one rank, captured once ({@link EpBuffer#captureGraph}) and replayed
 * many times: on a GPU, a CUDA graph of the calls' kernels (and of whatever else the caller
 * launched on the rank's stream meanwhile), replayed with one launch and no host work per call.
 * A replay reads the inputs where the captured calls read them: write new inputs into the same
 * tensors between replays. Every rank must replay its graph the same number of times, like any
 * collective call.
 *
 * <p>Owned by the caller: close it before the buffer. Closing twice is harmless.
 */
public interface EpGraph extends AutoCloseable {
    /**
     * Runs the captured calls once more, in stream order after what the rank issued before.
     *
     * @return completion of the replay: {@link EpEvent#await()} waits and raises what the device
     *         found in any of the replayed calls
     * @throws IllegalStateException when the graph or its buffer was closed
     */
    EpEvent replay();

    /** Frees the graph. */
    @Override
    void close();
}
