package ep4j.cli.bench;

/**
 * A case's pipelined run: spans of {@code calls} back-to-back asynchronous calls on every rank at
 * once, with no host wait between the calls, the way DeepEP reports its figures. All times are
 * per call, the slowest rank's, median over the spans: {@code gpuMicros} from device events
 * around each span (NaN on a backend without a device clock, the CPU), {@code wallMicros} from a
 * barrier all ranks pass to the moment every rank's span has ended on the device, and
 * {@code issueMicros} the host time to issue a call (from the span's start event to the return of
 * its last call). When issuing takes about as long as the device work, the device waited for the
 * host and {@code gpuMicros} measures the host's pace: {@link #hostBound()}.
 */
public record PipelinedTimes(int calls, int spans, double gpuMicros, double wallMicros, double issueMicros) {
    /** Issue time over GPU time from which the GPU time is taken to be the host's pace. */
    static final double HOST_BOUND = 0.9;

    public PipelinedTimes {
        if (calls <= 0 || spans <= 0) {
            throw new IllegalArgumentException("pipelined calls " + calls + " and spans " + spans + ": expected both > 0");
        }
    }

    /** Whether issuing a call took at least {@value #HOST_BOUND} of its GPU time (false without GPU time). */
    public boolean hostBound() {
        return issueMicros >= HOST_BOUND * gpuMicros;
    }
}
