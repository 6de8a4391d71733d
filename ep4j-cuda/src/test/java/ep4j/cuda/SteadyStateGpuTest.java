package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.cuda.driver.DriverCalls;
import ep4j.oracle.Cases;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * DESIGN 3, "no device-wide waits in the steady state": once warm, the library makes none of
 * the driver calls that wait for every kernel on a GPU (or the host for a stream) over 10,000
 * calls of every kind, counted in the binding layer ({@link DriverCalls}).
 */
@Tag("gpu")
class SteadyStateGpuTest {
    /** Driver calls that must not happen on a warm rank: they wait for the device, or allocate synchronously. */
    private static final List<String> FORBIDDEN = List.of("cuMemAlloc_v2", "cuMemFree_v2", "cuMemFreeHost",
            "cuMemHostAlloc", "cuModuleLoadData", "cuModuleLoad", "cuCtxSynchronize", "cuStreamSynchronize",
            "cuEventSynchronize", "cuMemcpyDtoH_v2", "cuMemcpyHtoD_v2");

    /** Uploads a rank's inputs once; the steps reuse them. */
    private record Inputs(Tensor x, Tensor idx, Tensor w, Tensor nx, Tensor nidx, Tensor nw) implements AutoCloseable {
        static Inputs of(EpGroup g, int rank, Cases.Case c, RoutingCase n) {
            return new Inputs(g.upload(rank, c.x(rank)), g.upload(rank, c.topkIdx(rank)),
                    g.upload(rank, c.topkWeights(rank)), g.upload(rank, n.x(rank)), g.upload(rank, n.topkIdx(rank)),
                    g.upload(rank, n.topkWeights(rank)));
        }

        @Override
        public void close() {
            for (Tensor t : new Tensor[] {x, idx, w, nx, nidx, nw}) {
                t.close();
            }
        }
    }

    private static void steps(EpGroup g, EpBuffers b, int steps, Cases.Case c, RoutingCase n, List<Inputs> in) {
        g.onEachRank(rank -> {
            EpBuffer buf = b.rank(rank);
            Inputs t = in.get(rank);
            for (int i = 0; i < steps; i++) {
                // Two low-latency calls a step, and every 8 steps a layout and two normal calls.
                try (LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(t.x(), t.idx(), c.experts).fp8());
                        LowLatencyCombined o = buf.lowLatencyCombine(LowLatencyCombineArgs.of(
                                buf.lowLatencyCombineInput(d.handle()), t.idx(), t.w(), d.handle()).zeroCopy(true))) {
                    o.event().await();
                }
                if (i % 8 == 0) {
                    try (DispatchLayout l = buf.layout(t.nidx(), n.experts());
                            Dispatched d = buf.dispatch(DispatchArgs.of(t.nx()).topk(t.nidx(), t.nw()).layout(l));
                            Combined o = buf.combine(CombineArgs.of(d.x(), d.handle()))) {
                        o.event().await();
                    }
                }
            }
            return null;
        });
    }

    @Test
    void tenThousandWarmCallsMakeNoDriverCallThatWaitsForTheDevice() {
        int ranks = 2;
        Cases.Case c = Cases.options().ranks(ranks).experts(32).hidden(2048).topk(8).tokens(64).seed(3).generate();
        RoutingCase n = RoutingCase.of(ranks, 32, 2048, 8, 256, 4);
        BufferSpec spec = BufferSpec.normal(2048, 256).lowLatency(64, 32).maxTopk(8).timeout(Duration.ofSeconds(10));
        try (EpGroup g = GpuRequired.group(ranks); EpBuffers b = g.allocate(spec)) {
            List<Inputs> in = new java.util.ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                in.add(Inputs.of(g, r, c, n));
            }
            steps(g, b, 100, c, n, in); // warm: pools grown, every kernel launched once
            Map<String, Long> before = DriverCalls.snapshot();
            int steps = 10_000 / 2 / ranks;
            steps(g, b, steps, c, n, in);
            Map<String, Long> during = new TreeMap<>(DriverCalls.since(before));
            for (String call : FORBIDDEN) {
                assertEquals(0L, during.getOrDefault(call, 0L), call + " during " + steps * 2 * ranks
                        + " warm calls; all calls: " + during);
            }
            // And the calls happened: launches were counted (the low-latency ones overlap the
            // kernel ahead of them, through cuLaunchKernelEx).
            long launches = during.getOrDefault("cuLaunchKernel", 0L) + during.getOrDefault("cuLaunchKernelEx", 0L);
            assertTrue(launches >= steps * 2L * ranks, during.toString());
            System.out.println("driver calls over " + steps + " steps of " + ranks + " ranks: " + during);
            in.forEach(Inputs::close);
        }
    }
}
