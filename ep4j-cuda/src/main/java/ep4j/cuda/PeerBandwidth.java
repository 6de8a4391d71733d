package ep4j.cuda;

import ep4j.EpGroup;
import ep4j.InvalidArgumentException;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.KernelArgs;
import ep4j.cuda.kernel.Kernels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CyclicBarrier;

/**
 * The benchmark's GPU baseline: every GPU writes into all of its peers at once with the same
 * kind of 16-byte SM stores the kernels use, each peer on its own stream (one peer per block,
 * never interleaved). The result is the egress per GPU, the ceiling an all-to-all can reach.
 */
public final class PeerBandwidth {
    private PeerBandwidth() {
    }

    /**
     * Median per-GPU egress in GB/s (1e9 bytes/s) over {@code iterations} rounds, each GPU sending
     * {@code bytesPerPeer} to every peer with {@code blocksPerPeer} blocks.
     */
    public static double allPeerWriteGBps(EpGroup group, long bytesPerPeer, int blocksPerPeer, int iterations) {
        if (!(group instanceof CudaGroup cg)) {
            throw new InvalidArgumentException("group.backend", group.backend(), "cuda");
        }
        int r = cg.size();
        if (r < 2) {
            return Double.NaN;
        }
        CyclicBarrier barrier = new CyclicBarrier(r);
        double[][] seconds = new double[r][iterations];
        cg.onEachRank(rank -> {
            CudaContext ctx = cg.context(rank);
            ctx.makeCurrent();
            List<AutoCloseable> owned = new ArrayList<>();
            try (KernelArgs args = new KernelArgs()) {
                DeviceMemory src = DeviceMemory.allocate(ctx, bytesPerPeer);
                owned.add(src);
                src.fill((byte) 1);
                List<Long> dsts = new ArrayList<>();
                List<CudaStream> streams = new ArrayList<>();
                for (int p = 0; p < r; p++) {
                    if (p != rank) {
                        DeviceMemory d = DeviceMemory.allocate(cg.context(p), bytesPerPeer);
                        owned.add(d);
                        dsts.add(d.address());
                        ctx.makeCurrent();
                        CudaStream s = CudaStream.create(ctx, true);
                        owned.add(s);
                        streams.add(s);
                    }
                }
                ctx.makeCurrent();
                Kernels k = cg.kernels(rank);
                for (int it = -2; it < iterations; it++) {
                    barrier.await();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < dsts.size(); i++) {
                        args.reset().ptr(dsts.get(i)).ptr(src.address()).i64(bytesPerPeer);
                        k.copy.launch(blocksPerPeer, 1, Kernels.COPY_THREADS, 0, streams.get(i), args);
                    }
                    for (CudaStream s : streams) {
                        s.synchronize();
                    }
                    barrier.await();
                    long t1 = System.nanoTime();
                    if (it >= 0) {
                        seconds[rank][it] = (t1 - t0) / 1e9;
                    }
                }
            } finally {
                for (int i = owned.size() - 1; i >= 0; i--) {
                    owned.get(i).close();
                }
            }
            return null;
        });
        double[] perIter = new double[iterations];
        for (int it = 0; it < iterations; it++) {
            double worst = 0;
            for (int rank = 0; rank < r; rank++) {
                worst = Math.max(worst, seconds[rank][it]);
            }
            perIter[it] = (double) bytesPerPeer * (r - 1) / worst / 1e9;
        }
        Arrays.sort(perIter);
        return perIter[iterations / 2];
    }
}
