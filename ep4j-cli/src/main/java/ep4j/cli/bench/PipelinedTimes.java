package ep4j.cli.bench;

/**
 * A case's pipelined run: spans of {@code calls} back-to-back asynchronous calls on every rank at
 * once, with no host wait between the calls, the way DeepEP reports its figures. Both times are
 * per call: {@code gpuMicros} from device events around each span (NaN on a backend without a
 * device clock, the CPU), {@code wallMicros} from a barrier all ranks pass to the moment every
 * rank's span has ended on the device. Each is the slowest rank's, median over the spans.
 */
public record PipelinedTimes(int calls, int spans, double gpuMicros, double wallMicros) {
    public PipelinedTimes {
        if (calls <= 0 || spans <= 0) {
            throw new IllegalArgumentException("pipelined calls " + calls + " and spans " + spans + ": expected both > 0");
        }
    }
}
