package ep4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import ep4j.cuda.kernel.CommonParams;
import ep4j.cuda.kernel.LlParams;
import ep4j.cuda.kernel.Params;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The host cost of filling a low-latency launch's parameters (the fields LowLatencyPath sets
 * per call: the common ones, then 30 of its own) through {@link Params}, which writes a
 * {@code long[]} image and copies it out once, against the same fields written one by one into
 * native memory with {@code MemorySegment.set} (how Params worked before 2026-11-30).
 *
 * <p>On the GPU machine, a wall-clock profile of the bench in one JVM found the per-field
 * native writes at 30% of a low-latency dispatch's host path (the JIT left their VarHandle
 * guards out of line in the long fill chain); the image cut the low-latency host cost there from
 * 27-30 us to 7-15 us. Here, on a 2-core VM (JDK 25, 2 warm-up and 3 measured seconds): 53 ns per
 * fill with the image, 337 ns (with a large spread) field by field; in this small benchmark the
 * JIT inlines the native writes better than it did in the library's real call path.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class ParamsBench {
    private final Params params = new Params(LlParams.STRUCT);
    private final Arena arena = Arena.ofShared();
    private final MemorySegment raw = arena.allocate(LlParams.STRUCT.size(), 16);
    private final CommonParams.Values common = new CommonParams.Values(new long[] {1L << 40, 2L << 40}, 0x1000, 1L << 30,
            5_000_000_000L, 0, 2);
    private long base = 0x7f00_0000_0000L;

    @Benchmark
    public MemorySegment image() {
        long b = base++;
        return LlParams.COMMON.fill(params.clear(), common)
                .set(LlParams.RECV_X, b).set(LlParams.RECV_SCALES, b + 1).set(LlParams.RECV_COUNT, b + 2)
                .set(LlParams.SOURCE_TOKEN, b + 3).set(LlParams.RANGES, b + 4).set(LlParams.FIRST_K, b + 5)
                .set(LlParams.DTOPK, b + 6).set(LlParams.O_DATA, 7).set(LlParams.O_HDR, 8).set(LlParams.O_CNT, 9)
                .set(LlParams.O_CREG, 10).set(LlParams.SLOT, 1).set(LlParams.PHASE, 0).set(LlParams.NUM_TOKENS, 128)
                .set(LlParams.HIDDEN, 7168).set(LlParams.TOPK, 8).set(LlParams.EXPERTS, 256)
                .set(LlParams.LOCAL_EXPERTS, 128).set(LlParams.MAX_TOKENS, 128).set(LlParams.MAX_TOPK, 8)
                .set(LlParams.MODE, 1).set(LlParams.ROW_STRIDE, 14336).set(LlParams.X_ROW_BYTES, 7168)
                .set(LlParams.SCALE_BYTES, 224).set(LlParams.SEND_BLOCKS, 132).set(LlParams.TRACE, 0)
                .set(LlParams.X, b + 11).set(LlParams.TOPK_IDX, b + 12).set(LlParams.TOPK64, true)
                .segment();
    }

    /** The same fields, each written into native memory as it is set. */
    @Benchmark
    public MemorySegment fieldByField() {
        long b = base++;
        raw.fill((byte) 0);
        long[] heaps = common.heaps();
        for (int i = 0; i < LlParams.COMMON.heap().count(); i++) {
            raw.set(JAVA_LONG, LlParams.COMMON.heap().offset() + 8L * i, i < heaps.length ? heaps[i] : 0L);
        }
        p(LlParams.COMMON.records().offset(), common.records());
        p(LlParams.COMMON.heapBytes().offset(), common.heapBytes());
        p(LlParams.COMMON.timeoutNs().offset(), common.timeoutNanos());
        i(LlParams.COMMON.rank().offset(), common.rank());
        i(LlParams.COMMON.ranks().offset(), common.ranks());
        p(LlParams.RECV_X.offset(), b);
        p(LlParams.RECV_SCALES.offset(), b + 1);
        p(LlParams.RECV_COUNT.offset(), b + 2);
        p(LlParams.SOURCE_TOKEN.offset(), b + 3);
        p(LlParams.RANGES.offset(), b + 4);
        p(LlParams.FIRST_K.offset(), b + 5);
        p(LlParams.DTOPK.offset(), b + 6);
        p(LlParams.O_DATA.offset(), 7);
        p(LlParams.O_HDR.offset(), 8);
        p(LlParams.O_CNT.offset(), 9);
        p(LlParams.O_CREG.offset(), 10);
        i(LlParams.SLOT.offset(), 1);
        i(LlParams.PHASE.offset(), 0);
        i(LlParams.NUM_TOKENS.offset(), 128);
        i(LlParams.HIDDEN.offset(), 7168);
        i(LlParams.TOPK.offset(), 8);
        i(LlParams.EXPERTS.offset(), 256);
        i(LlParams.LOCAL_EXPERTS.offset(), 128);
        i(LlParams.MAX_TOKENS.offset(), 128);
        i(LlParams.MAX_TOPK.offset(), 8);
        i(LlParams.MODE.offset(), 1);
        i(LlParams.ROW_STRIDE.offset(), 14336);
        i(LlParams.X_ROW_BYTES.offset(), 7168);
        i(LlParams.SCALE_BYTES.offset(), 224);
        i(LlParams.SEND_BLOCKS.offset(), 132);
        p(LlParams.TRACE.offset(), 0);
        p(LlParams.X.offset(), b + 11);
        p(LlParams.TOPK_IDX.offset(), b + 12);
        i(LlParams.TOPK64.offset(), 1);
        return raw;
    }

    private void p(long offset, long v) {
        raw.set(JAVA_LONG, offset, v);
    }

    private void i(long offset, int v) {
        raw.set(JAVA_INT, offset, v);
    }

    @TearDown
    public void close() {
        params.close();
        arena.close();
    }
}
