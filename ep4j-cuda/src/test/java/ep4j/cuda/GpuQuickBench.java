package ep4j.cuda;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.Config;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.KernelTiming;
import ep4j.Tensor;
import java.util.Arrays;
import java.util.concurrent.CyclicBarrier;
import java.util.function.Supplier;

/**
 * A developer's quick timing of the normal kernels on the headline case (DeepEP's: 4096
 * tokens per rank, hidden 7168, top-8 of 256 experts), over SM counts. Wall-clock per
 * collective call (all ranks start together; the slowest rank ends it), median of iterations.
 * The user-facing benchmark is {@code ep4j bench}; this is for kernel work on the device.
 */
public final class GpuQuickBench {
    public static void main(String[] argv) throws Exception {
        int ranks = argv.length > 0 ? Integer.parseInt(argv[0]) : 2;
        int tokens = argv.length > 1 ? Integer.parseInt(argv[1]) : 4096;
        int[] smsList = argv.length > 2 ? Arrays.stream(argv[2].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[] {8, 16, 24, 32};
        int iters = 20;
        RoutingCase c = RoutingCase.of(ranks, 256, 7168, 8, tokens, 42);
        try (EpGroup g = EpGroup.localGpus(ranks);
             EpBuffers bufs = g.allocate(BufferSpec.normal(7168, tokens).maxTopk(8).timeout(java.time.Duration.ofSeconds(5)))) {
            CyclicBarrier barrier = new CyclicBarrier(ranks);
            bufs.all().forEach(b -> b.kernelTiming().orElseThrow().enable());
            g.onEachRank(rank -> {
                EpBuffer buf = bufs.rank(rank);
                Tensor x = g.upload(rank, c.x(rank));
                Tensor q = g.upload(rank, c.fp8(rank));
                Tensor s = g.upload(rank, c.scales(rank));
                Tensor idx = g.upload(rank, c.topkIdx(rank));
                Tensor w = g.upload(rank, c.topkWeights(rank));
                double layoutUs = time(barrier, iters, () -> buf.layout(idx, 256));
                if (rank == 0) {
                    System.out.printf("layout: %.1f us (host-synchronous)%n", layoutUs);
                }
                try (DispatchLayout layout = buf.layout(idx, 256)) {
                    for (int sms : smsList) {
                        Config cfg = Config.sms(sms);
                        double bf16 = time(barrier, iters,
                                () -> buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(layout).config(cfg)));
                        double fp8 = time(barrier, iters,
                                () -> buf.dispatch(DispatchArgs.fp8(q, s).topk(idx, w).layout(layout).config(cfg)));
                        try (Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(layout).config(cfg))) {
                            double cached = time(barrier, iters,
                                    () -> buf.dispatch(DispatchArgs.of(x).cached(d.handle()).config(cfg)));
                            double worst = time(barrier, iters, () -> buf.dispatch(
                                    DispatchArgs.of(x).topk(idx, w).layout(layout).numWorstTokens(tokens * ranks).config(cfg)));
                            double comb = time(barrier, iters,
                                    () -> buf.combine(CombineArgs.of(d.x(), d.handle()).config(cfg)));
                            long rows = d.numRows();
                            // Kernel (GPU) times of the last timed call of each kind on this rank.
                            buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(layout).config(cfg)).close();
                            KernelTiming timing = buf.kernelTiming().orElseThrow();
                            String phases = KernelTimer.lastHostPhases(buf);
                            double kNotify = timing.lastMicros(KernelTiming.Stage.NOTIFY);
                            double kDispatch = timing.lastMicros(KernelTiming.Stage.DISPATCH);
                            buf.dispatch(DispatchArgs.fp8(q, s).topk(idx, w).layout(layout).config(cfg)).close();
                            double kFp8 = timing.lastMicros(KernelTiming.Stage.DISPATCH);
                            buf.combine(CombineArgs.of(d.x(), d.handle()).config(cfg)).close();
                            double kCombine = timing.lastMicros(KernelTiming.Stage.COMBINE);
                            System.out.printf("  rank %d kernels: notify %.1f us, dispatch bf16 %.1f us, fp8 %.1f us, combine %.1f us%n",
                                    rank, kNotify, kDispatch, kFp8, kCombine);
                            System.out.printf("  rank %d host phases of dispatch: %s; pool: %s%n", rank, phases, KernelTimer.poolStats(buf));
                            if (rank == 0) {
                                double recvBytes = rows * 7168.0 * 2;
                                System.out.printf(
                                        "sms=%2d rows=%d  dispatch bf16 %.1f us (%.0f GB/s logical) | fp8 %.1f us | cached bf16 %.1f us"
                                                + " | worst-sized bf16 %.1f us | combine %.1f us (%.0f GB/s)%n",
                                        sms, rows, bf16, recvBytes / bf16 / 1e3, fp8, cached, worst, comb,
                                        recvBytes / comb / 1e3);
                            }
                        }
                    }
                }
                for (Tensor t : new Tensor[] {x, q, s, idx, w}) {
                    t.close();
                }
                return null;
            });
        }
    }

    private static double time(CyclicBarrier barrier, int iters, Supplier<? extends AutoCloseable> call) throws Exception {
        double[] us = new double[iters];
        for (int i = -3; i < iters; i++) {
            barrier.await();
            long t0 = System.nanoTime();
            AutoCloseable r = call.get();
            barrier.await();
            long t1 = System.nanoTime();
            r.close();
            if (i >= 0) {
                us[i] = (t1 - t0) / 1e3;
            }
        }
        Arrays.sort(us);
        return us[iters / 2];
    }
}
