package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.memory.StreamPool;
import ep4j.oracle.Cases;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The hazard the device control plane removes (issue "GPU runtime", item 7): between low-latency
 * steps, every rank thread allocates and frees memory of its own, synchronously (cuMemAlloc,
 * cuMemFree, which wait for every kernel on the GPU) and stream-ordered, and runs the garbage
 * collector, while its peers' kernels may be waiting for it. 100,000 steps of dispatch + combine
 * (every other one through hooks) must end with no timeout and no deadlock. The rule that makes
 * this safe, for users (README, "GPU memory rule"): between calls, a rank may free memory on its
 * own GPU; it must not while a call of its own is still in flight (async, or a hook not yet
 * received), nor on a GPU another rank of the group uses.
 */
@Tag("gpu")
class StressGpuTest {
    private static final int STEPS = Integer.parseInt(System.getenv().getOrDefault("EP4J_STRESS_STEPS", "100000"));
    /** System.gc() every this many steps (a full collection costs milliseconds; every step would take hours). */
    private static final int GC_EVERY = 1000;

    @Test
    void lowLatencyStepsWithAllocationsFreesAndCollectionsBetweenThem() {
        int ranks = 2;
        int experts = 16;
        Cases.Case c = Cases.options().ranks(ranks).experts(experts).hidden(1024).topk(4).tokens(32).seed(21).generate();
        BufferSpec spec = BufferSpec.normal(1024, 1).lowLatency(32, experts).maxTopk(4).timeout(Duration.ofSeconds(10));
        try (EpGroup g = GpuRequired.group(ranks); EpBuffers b = g.allocate(spec)) {
            long start = System.nanoTime();
            g.onEachRank(rank -> {
                EpBuffer buf = b.rank(rank);
                CudaContext ctx = ((CudaGroup) g).context(rank);
                try (Tensor x = g.upload(rank, c.x(rank)); Tensor idx = g.upload(rank, c.topkIdx(rank));
                        Tensor w = g.upload(rank, c.topkWeights(rank)); CudaStream own = CudaStream.create(ctx, true);
                        StreamPool pool = StreamPool.open(ctx)) {
                    for (int step = 0; step < STEPS; step++) {
                        boolean hook = (step & 1) == 1;
                        try (LowLatencyDispatched d = buf.lowLatencyDispatch(
                                LowLatencyDispatchArgs.of(x, idx, experts).returnRecvHook(hook))) {
                            if (hook) {
                                d.hook().receive().await();
                            }
                            try (LowLatencyCombined o = buf.lowLatencyCombine(LowLatencyCombineArgs.of(
                                    buf.lowLatencyCombineInput(d.handle()), idx, w, d.handle()).zeroCopy(true)
                                    .returnRecvHook(hook))) {
                                if (hook) {
                                    o.hook().receive().await();
                                }
                            }
                        }
                        // The rank's own memory traffic between steps.
                        ctx.makeCurrent();
                        DeviceMemory.allocate(ctx, 1 << 20).close();
                        pool.allocate(1 << 20, own).close();
                        if (step % GC_EVERY == 0) {
                            System.gc();
                        }
                    }
                    own.synchronize();
                }
                return null;
            });
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("stress: %d low-latency steps (dispatch + combine, half through hooks) on %d ranks,"
                    + " with cuMemAlloc/cuMemFree and stream-ordered alloc/free between steps: %.1f s%n",
                    STEPS, ranks, seconds);
            assertEquals(ranks, b.all().size());
        }
    }
}
