package ep4j.cuda;

import ep4j.EpGroup;
import ep4j.InvalidArgumentException;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.KernelArgs;
import ep4j.cuda.kernel.Kernels;
import ep4j.cuda.memory.SymmetricMemory;
import java.util.ArrayList;
import java.util.List;

/**
 * One rank's share of a peer-write baseline: it writes {@code bytes[peer]} bytes into each
 * peer's memory with the same 16-byte SM stores the kernels use, each peer on its own stream
 * (one peer per block, never interleaved), and {@link #run()} returns when all have landed.
 * Run on every rank at once, it measures the bandwidth an all-to-all can reach on this machine.
 */
public final class PeerCopy implements AutoCloseable {
    /** Blocks per peer: NVLink writes saturate from about 8 (device notes); 16 leaves margin. */
    public static final int BLOCKS_PER_PEER = 16;

    private final CudaGroup group;
    private final int rank;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final List<long[]> copies = new ArrayList<>();
    private final List<CudaStream> streams = new ArrayList<>();
    private final KernelArgs args = new KernelArgs();

    /** Prepares the copies of {@code rank} to every peer j with {@code bytesToPeer[j] > 0} (its own entry is ignored). */
    public PeerCopy(EpGroup group, int rank, long[] bytesToPeer) {
        if (!(group instanceof CudaGroup cg)) {
            throw new InvalidArgumentException("group.backend", group.backend(), "cuda");
        }
        this.group = cg;
        this.rank = rank;
        CudaContext ctx = cg.context(rank);
        try {
            for (int peer = 0; peer < bytesToPeer.length; peer++) {
                long bytes = bytesToPeer[peer] / 16 * 16;
                if (peer == rank || bytes <= 0) {
                    continue;
                }
                DeviceMemory src = DeviceMemory.allocate(ctx, bytes);
                owned.add(src);
                src.fill((byte) 0x3C);
                // Peers reach each other's memory only through mappings that grant them access.
                SymmetricMemory dst = SymmetricMemory.allocate(cg.context(peer), bytes, List.of(ctx.device()));
                owned.add(dst);
                ctx.makeCurrent();
                CudaStream s = CudaStream.create(ctx, true);
                owned.add(s);
                streams.add(s);
                copies.add(new long[] {dst.address(), src.address(), bytes});
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Launches every copy, then waits for all of them. */
    public void run() {
        group.context(rank).makeCurrent();
        Kernels k = group.kernels(rank);
        for (int i = 0; i < copies.size(); i++) {
            long[] c = copies.get(i);
            args.reset().ptr(c[0]).ptr(c[1]).i64(c[2]);
            k.copy.launch(BLOCKS_PER_PEER, 1, ep4j.cuda.kernel.KernelConstants.COPY_THREADS, 0, streams.get(i), args);
        }
        for (CudaStream s : streams) {
            while (!s.isIdle()) {
                Thread.onSpinWait();
            }
        }
    }

    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception ignored) {
                // closing device memory and streams does not fail in practice; keep closing the rest
            }
        }
        owned.clear();
        args.close();
    }
}
