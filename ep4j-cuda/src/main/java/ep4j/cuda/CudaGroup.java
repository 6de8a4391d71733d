package ep4j.cuda;

import ep4j.spi.Closing;
import ep4j.AllocationException;
import ep4j.BufferSpec;
import ep4j.DType;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import ep4j.cuda.driver.CudaConstants;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaException;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.GroupSpec;
import ep4j.cuda.kernel.Kernels;
import ep4j.spi.Rendezvous;
import ep4j.spi.HostMemory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The ranks this process drives on its GPUs. Either one JVM drives ranks 0..R-1 on GPUs 0..G-1
 * (rank r on GPU r % G; G = R unless a test asks for fewer), or, in a group spread over
 * processes ({@link GroupSpec#isMultiProcess()}), this process drives one rank on the GPU of its
 * local rank and meets the others through the job's rendezvous. GPUs reach each other only
 * through the buffers' symmetric heaps (mapped into every GPU of the group), not through
 * context-wide peer access.
 */
final class CudaGroup implements EpGroup {
    /** Contexts of the ranks this process drives; null for the others. */
    private final CudaContext[] contexts;
    private final Kernels[] kernels;
    private final int[] localRanks;
    private final List<CudaBuffers> buffers = new CopyOnWriteArrayList<>();
    private final Rendezvous rendezvous;
    private volatile boolean closed;
    private int allocations;
    /** Most ranks that share one GPU (1 unless a test spreads ranks over fewer GPUs). */
    private final int ranksPerGpu;

    CudaGroup(GroupSpec spec) {
        int ranks = spec.size();
        contexts = new CudaContext[ranks];
        kernels = new Kernels[ranks];
        if (spec.isMultiProcess()) {
            localRanks = new int[] {spec.processRank()};
            ranksPerGpu = 1;
        } else {
            localRanks = java.util.stream.IntStream.range(0, ranks).toArray();
            ranksPerGpu = (ranks + spec.gpuCount() - 1) / spec.gpuCount();
        }
        Rendezvous rdv = null;
        try {
            for (int r : localRanks) {
                contexts[r] = CudaContext.open(spec.isMultiProcess() ? spec.localRank() : r % spec.gpuCount());
                contexts[r].makeCurrent();
                kernels[r] = Kernels.load(contexts[r]);
            }
            if (spec.isMultiProcess()) {
                rdv = spec.rendezvous().get();
            }
        } catch (RuntimeException e) {
            this.rendezvous = rdv;
            close();
            throw e;
        }
        this.rendezvous = rdv;
    }

    /** The job's rendezvous, or null when this process drives every rank. */
    Rendezvous rendezvous() {
        return rendezvous;
    }

    /** A name for the next buffers of this group, the same on every process (allocation is collective). */
    synchronized String nextBuffersName() {
        return "buffers-" + allocations++;
    }

    CudaContext context(int rank) {
        return contexts[rank];
    }

    int ranksPerGpu() {
        return ranksPerGpu;
    }

    Kernels kernels(int rank) {
        return kernels[rank];
    }

    /** {@code b} was closed: the group no longer keeps it. */
    void forget(CudaBuffers b) {
        buffers.remove(b);
    }

    @Override
    public String backend() {
        return "cuda";
    }

    @Override
    public int size() {
        return contexts.length;
    }

    @Override
    public int[] localRanks() {
        return localRanks.clone();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("EpGroup (cuda) was closed");
        }
    }

    private CudaContext rankContext(int rank) {
        if (rank < 0 || rank >= contexts.length || contexts[rank] == null) {
            throw new InvalidArgumentException("rank", rank, "a rank this process drives: "
                    + java.util.Arrays.toString(localRanks));
        }
        return contexts[rank];
    }

    @Override
    public EpBuffers allocate(BufferSpec spec) {
        ensureOpen();
        CudaBuffers b = new CudaBuffers(this, spec.conclude());
        buffers.add(b);
        return b;
    }

    @Override
    public Tensor allocate(int rank, DType dtype, long... shape) {
        ensureOpen();
        CudaContext ctx = rankContext(rank);
        long bytes = dtype.byteSize();
        for (long s : shape) {
            bytes = Math.multiplyExact(bytes, s);
        }
        DeviceMemory m;
        try {
            m = DeviceMemory.allocate(ctx, Math.max(bytes, 16));
        } catch (CudaException e) {
            if (e.result() == CudaConstants.CUDA_ERROR_OUT_OF_MEMORY) {
                throw new AllocationException("a tensor " + dtype + java.util.Arrays.toString(shape) + " of rank " + rank,
                        bytes, ctx.device().ordinal(), e);
            }
            throw e;
        }
        m.fill((byte) 0);
        return Tensor.owned(null, m.address(), ctx.device().ordinal(), dtype, m, shape);
    }

    @Override
    public Tensor upload(int rank, Tensor host) {
        Tensor t = allocate(rank, host.dtype(), host.shape());
        if (host.byteSize() > 0) {
            CudaContext ctx = rankContext(rank);
            ctx.makeCurrent();
            DeviceMemory.copyFromHost(ctx, host.segment(), t.address());
        }
        return t;
    }

    @Override
    public Tensor download(Tensor tensor) {
        ensureOpen();
        Tensor host = HostMemory.tensor(tensor.dtype(), tensor.shape());
        if (tensor.isHost()) {
            host.segment().copyFrom(tensor.segment());
        } else if (tensor.byteSize() > 0) {
            CudaContext ctx = contextOfGpu(tensor.device());
            ctx.makeCurrent();
            // Results are produced on the ranks' communication streams; the synchronous copy
            // waits for them only if they were synchronous calls, so finish the device first.
            // Not where ranks share a GPU: another rank's kernel may be waiting for this thread.
            if (ranksPerGpu == 1) {
                ctx.synchronize();
            }
            DeviceMemory.copyToHost(ctx, tensor.address(), host.segment());
        }
        return host;
    }

    /** The context of a rank on GPU {@code ordinal} (tensors name their GPU, not their rank). */
    private CudaContext contextOfGpu(int ordinal) {
        for (CudaContext c : contexts) {
            if (c != null && c.device().ordinal() == ordinal) {
                return c;
            }
        }
        throw new InvalidArgumentException("tensor.device", ordinal, "a GPU of this group");
    }

    @Override
    public void abort(Throwable cause) {
        String why = cause == null ? "abort() without a cause" : String.valueOf(cause.getMessage());
        buffers.forEach(b -> b.abort(why));
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = Closing.closeAll(List.copyOf(buffers));
        for (int r = 0; r < contexts.length; r++) {
            if (kernels[r] != null) {
                contexts[r].makeCurrent();
                kernels[r].close();
            }
            if (contexts[r] != null) {
                contexts[r].close();
            }
        }
        RuntimeException rdv = Closing.closeAll(rendezvous);
        if (first == null) {
            first = rdv;
        }
        if (first != null) {
            throw first;
        }
    }
}
