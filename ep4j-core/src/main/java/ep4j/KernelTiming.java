package ep4j;

/**
 * Device time of the kernels of one buffer's calls, measured with events the backend records on
 * the rank's stream around each kernel (CUDA events on the GPU backend): the time benchmarks
 * report next to the wall clock. Obtained from {@link EpBuffer#kernelTiming()}, which is empty
 * where a backend runs no device kernels (the CPU backend).
 *
 * <p>Timing is off until {@link #enable()}: then every call records two events per kernel,
 * which costs a little host time per call. It covers the normal calls ({@link EpBuffer#layout},
 * {@link EpBuffer#dispatch}, {@link EpBuffer#combine}); each of them starts a new "last call".
 * Read it from the thread that makes the rank's calls, after the call to measure; reading waits
 * until that call's kernels have finished.
 */
public interface KernelTiming {
    /** The kernels of the normal calls, in the order a call runs them. */
    enum Stage {
        /** The layout kernel of {@link EpBuffer#layout}. */
        LAYOUT,
        /**
         * The count exchange of a fresh normal dispatch, where it runs as a launch of its own (rows
         * too large for the GPU backend's bulk dispatch kernel, which runs the exchange itself; a
         * cached dispatch has none).
         */
        NOTIFY,
        /** The row copy of a normal dispatch. */
        DISPATCH,
        /** The normal combine kernel. */
        COMBINE
    }

    /** Starts recording, from the next call on. Calling it again does nothing. */
    void enable();

    /**
     * Stops recording, from the next call on, so that calls cost no event records again (spans
     * still work). {@link #lastCallMicros()} is NaN until timing is enabled again and a call ran.
     */
    void disable();

    /**
     * Whether {@link #enable()} was called.
     *
     * @return true when recording
     */
    boolean isEnabled();

    /**
     * The device time of one kernel of the buffer's last call.
     *
     * @param stage the kernel
     * @return microseconds from the kernel's start to its end; NaN when timing is off or the
     *         last call did not run that kernel
     */
    double lastMicros(Stage stage);

    /**
     * The device time of the buffer's last call: from the start of its first timed kernel to the
     * end of its last one, host gaps between them included.
     *
     * @return microseconds; NaN when timing is off or the last call ran no kernel
     */
    double lastCallMicros();

    /**
     * Starts a span on the rank's stream: an event recorded now, in stream order. With
     * {@link #endSpanMicros()} it measures the device time of many back-to-back calls, the way
     * DeepEP reports its figures (divide by the calls). Works whether or not per-kernel timing
     * is {@linkplain #enable() enabled}.
     */
    void startSpan();

    /**
     * Ends the span {@link #startSpan()} began and waits for it.
     *
     * @return microseconds of device time from the start event to now, in stream order
     * @throws IllegalStateException when no span was started
     */
    double endSpanMicros();
}
