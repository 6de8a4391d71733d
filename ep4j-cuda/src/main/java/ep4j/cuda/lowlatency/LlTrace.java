package ep4j.cuda.lowlatency;

import ep4j.cuda.control.RankRuntime;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.kernel.KernelConstants;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A diagnostic timeline of the low-latency kernels, off unless {@code -Dep4j.cuda.llTrace=DIR}.
 * When on, thread 0 of every block stamps the GPU clock ({@code %globaltimer}) at the points of
 * {@code LlTracePoint} (ll_common.cuh), and after each synchronous call the rank appends, per
 * point some block reached, the earliest and the latest stamp over the blocks, how many blocks
 * reached it and their median stamp (ns after the launch's first block entered) to
 * {@code DIR/ll-trace-rank<R>.csv}. Each traced launch costs
 * one stream-ordered memset and each recorded call a synchronous copy, so traced timings are for
 * comparing phases, not for the bench. Off, the kernels get a null pointer and nothing runs.
 */
final class LlTrace implements AutoCloseable {
    static final String PROPERTY = "ep4j.cuda.llTrace";
    private static final String[] POINTS = {"entry", "freeSeen", "listed", "rowsSent", "allSent", "dataSeen",
            "scanned", "rowsDone", "allDone", "end", "waitBegins", "staged"};

    private final RankRuntime rt;
    private final int blocks;
    private final DeviceMemory stamps;
    private final Arena arena;
    private final MemorySegment host;
    private final PrintWriter out;
    private long calls;

    private LlTrace(RankRuntime rt, int blocks, Path dir) {
        this.rt = rt;
        this.blocks = blocks;
        long bytes = 8L * blocks * KernelConstants.LL_TRACE_POINTS;
        try {
            Files.createDirectories(dir);
            this.out = new PrintWriter(Files.newBufferedWriter(dir.resolve("ll-trace-rank" + rt.rank + ".csv")));
        } catch (IOException e) {
            throw new UncheckedIOException("-D" + PROPERTY + "=" + dir + ": cannot write the trace there", e);
        }
        out.println("call,kernel,point,first_ns,last_ns,blocks,median_ns");
        this.stamps = DeviceMemory.allocate(rt.context, bytes);
        this.arena = Arena.ofShared(); // made by the buffer's creator, used by the rank's thread
        this.host = arena.allocate(bytes, 8);
    }

    /** The trace of {@code rt}'s launches of {@code blocks} blocks, or null when tracing is off. */
    static LlTrace create(RankRuntime rt, int blocks) {
        String dir = System.getProperty(PROPERTY);
        return dir == null || dir.isBlank() ? null : new LlTrace(rt, blocks, Path.of(dir));
    }

    /** The kernels' trace pointer. */
    long pointer() {
        return stamps.address();
    }

    /** Before the first launch of a call: clears the stamps on the rank's stream. */
    void arm() {
        DeviceMemory.zeroAsync(stamps.address(), stamps.byteSize(), rt.stream);
    }

    /** After a synchronous call of {@code kernel} completed: appends its timeline. */
    void record(String kernel) {
        stamps.download(0, host);
        int n = KernelConstants.LL_TRACE_POINTS;
        long origin = Long.MAX_VALUE;
        for (int b = 0; b < blocks; b++) {
            long t = host.getAtIndex(ValueLayout.JAVA_LONG, (long) b * n);
            if (t != 0) {
                origin = Math.min(origin, t);
            }
        }
        long call = calls++;
        long[] seen = new long[blocks];
        for (int p = 0; p < POINTS.length; p++) {
            int reached = 0;
            for (int b = 0; b < blocks; b++) {
                long t = host.getAtIndex(ValueLayout.JAVA_LONG, (long) b * n + p);
                if (t != 0) {
                    seen[reached++] = t - origin;
                }
            }
            if (reached > 0) {
                Arrays.sort(seen, 0, reached);
                out.println(call + "," + kernel + "," + POINTS[p] + "," + seen[0] + "," + seen[reached - 1] + ","
                        + reached + "," + seen[reached / 2]);
            }
        }
    }

    @Override
    public void close() {
        out.close();
        arena.close();
        stamps.close();
    }
}
