package ep4j.cli.bench;

/**
 * A low-latency case in hook mode ({@code returnRecvHook(true)}): the call only sends, then
 * {@code hook().receive()} receives, timed apart. {@code sendWall} is the wall clock of the
 * sending call and {@code receiveWall} that of {@code receive()} (on a GPU it enqueues the
 * receive half and returns; the CPU backend receives before returning), both from a barrier all
 * ranks pass to the moment all are done, in nanoseconds. The GPU figures are device-event spans
 * of each half alone, in microseconds, the slowest rank's, median over the calls (NaN without a
 * device clock). The receive half is issued only once every rank's send has completed.
 */
public record HookTimes(Latency sendWall, Latency receiveWall, double sendGpuMicros, double receiveGpuMicros) {
}
