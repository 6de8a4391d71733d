package ep4j.bench;

import ep4j.BufferSpec;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Tensor;
import ep4j.check.RequestValidator;
import ep4j.cuda.kernel.DispatchParams;
import ep4j.cuda.kernel.Params;
import ep4j.spi.Results;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Host-side costs of one normal dispatch call that do not touch a GPU: argument validation,
 * packing a kernel's parameter struct, and the pointer exchange between rank threads. Run with
 * {@code java -jar ep4j-bench/target/benchmarks.jar}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class HostCostBench {
    private Tensor x;
    private Tensor idx;
    private Tensor weights;
    private DispatchLayout layout;
    private RequestValidator validator;
    private Params params;
    private final long[] pointers = {1, 2, 3, 4, 5};

    @Setup(Level.Trial)
    public void setUp() {
        BufferSpec spec = BufferSpec.normal(7168, 4096).maxTopk(8).conclude();
        x = Tensor.ofDevice(0x7f00_0000_0000L, 0, ep4j.DType.BF16, 4096, 7168);
        idx = Tensor.ofDevice(0x7f00_1000_0000L, 0, ep4j.DType.INT64, 4096, 8);
        weights = Tensor.ofDevice(0x7f00_2000_0000L, 0, ep4j.DType.FLOAT32, 4096, 8);
        layout = Results.layout(256, 4096, Tensor.ofDevice(0x7f00_3000_0000L, 0, ep4j.DType.INT32, 2),
                Tensor.ofDevice(0x7f00_4000_0000L, 0, ep4j.DType.INT32, 256),
                Tensor.ofDevice(0x7f00_5000_0000L, 0, ep4j.DType.UINT8, 4096, 2));
        validator = new RequestValidator(null, 2, 0, spec);
        params = new Params(DispatchParams.STRUCT);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        params.close();
    }

    @Benchmark
    public DispatchArgs validateDispatch() {
        DispatchArgs a = DispatchArgs.of(x).topk(idx, weights).layout(layout);
        validator.dispatch(a);
        return a;
    }

    @Benchmark
    public long packDispatchParams() {
        return params.clear()
                .set(DispatchParams.COMMON.heap(), pointers).set(DispatchParams.COMMON.records(), 9)
                .set(DispatchParams.COMMON.heapBytes(), 1L << 30).set(DispatchParams.COMMON.timeoutNs(), 8)
                .set(DispatchParams.COMMON.rank(), 1).set(DispatchParams.COMMON.ranks(), 2)
                .set(DispatchParams.NUM_TOKENS, 4096).set(DispatchParams.ROW_BYTES, 14336)
                .set(DispatchParams.SCALE_BYTES, 0).set(DispatchParams.TOPK, 8).set(DispatchParams.IDX_IS_64, 1)
                .set(DispatchParams.LOCAL_EXPERTS, 128).set(DispatchParams.X, 1).set(DispatchParams.TOPK_IDX, 2)
                .set(DispatchParams.TOPK_WEIGHTS, 3).set(DispatchParams.SEND_ROW, 5).set(DispatchParams.O_X, 1024)
                .set(DispatchParams.O_IDX, 2048).set(DispatchParams.O_WEIGHTS, 4096).set(DispatchParams.O_SOURCE, 8192)
                .segment().byteSize();
    }
}
