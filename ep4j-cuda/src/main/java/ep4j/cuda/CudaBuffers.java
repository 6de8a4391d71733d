package ep4j.cuda;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.InvalidArgumentException;
import ep4j.cuda.control.RankRuntime;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.memory.HeapLayout;
import ep4j.cuda.memory.SymmetricHeap;
import ep4j.spi.Closing;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The buffers of every rank of a group driven by this JVM, and the memory they share: one
 * symmetric heap per rank, mapped into every GPU of the group (DESIGN 3: everything the kernels
 * exchange is allocated here, once), and each rank's local memory.
 */
final class CudaBuffers implements ep4j.EpBuffers {
    private final CudaGroup group;
    private final SymmetricHeap heap;
    private final List<EpBuffer> buffers;

    /** Makes the heaps and every rank's buffer; when a step fails, what was made is freed and the failure thrown. */
    CudaBuffers(CudaGroup group, BufferSpec spec) {
        this.group = group;
        int ranks = group.size();
        HeapLayout layout = new HeapLayout(ranks, spec);
        List<CudaContext> contexts = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            contexts.add(group.context(r));
        }
        int sms = Integer.MAX_VALUE;
        for (CudaContext c : contexts) {
            sms = Math.min(sms, c.device().multiprocessorCount() / group.ranksPerGpu());
        }
        // Every rank's low-latency launches have the same grid (receivers count one arrival per
        // rank, but tokens are dealt to blocks by index): the SMs of the rank that has fewest.
        int lowLatencyBlocks = Math.max(1, sms);
        SymmetricHeap h = SymmetricHeap.allocate(contexts, layout.heapBytes);
        List<EpBuffer> made = new ArrayList<>();
        try {
            for (int r = 0; r < ranks; r++) {
                CudaContext c = contexts.get(r);
                c.makeCurrent();
                DeviceMemory local = DeviceMemory.allocate(c, Math.max(layout.localBytes, 256));
                RankRuntime rt;
                try {
                    local.fill((byte) 0);
                    rt = new RankRuntime(r, ranks, spec, layout, c, group.kernels(r), h.bases(), local, sms);
                } catch (RuntimeException | Error e) {
                    local.close();
                    throw e;
                }
                made.add(new CudaBuffer(rt, lowLatencyBlocks));
            }
        } catch (RuntimeException | Error e) {
            List<AutoCloseable> undo = new ArrayList<>(made);
            undo.add(h);
            Closing.closeAllInto(e, undo.toArray(AutoCloseable[]::new));
            throw e;
        }
        this.heap = h;
        this.buffers = List.copyOf(made);
    }

    @Override
    public EpBuffer rank(int rank) {
        if (rank < 0 || rank >= buffers.size()) {
            throw new InvalidArgumentException("rank", rank, "0 to " + (buffers.size() - 1));
        }
        return buffers.get(rank);
    }

    @Override
    public List<EpBuffer> all() {
        return buffers;
    }

    /** Ends every rank's device waits at once (EpGroup.abort). */
    void abort(String why) {
        for (EpBuffer b : buffers) {
            ((CudaBuffer) b).abort(why);
        }
    }

    /**
     * Closes every buffer (each synchronizes its stream first), then the heaps: even after one
     * fails, the first failure is thrown and the others suppressed.
     */
    @Override
    public void close() {
        List<AutoCloseable> all = new ArrayList<>(buffers);
        if (!heap.isClosed()) {
            all.add(heap); // after the buffers: each synchronizes its stream first
        }
        RuntimeException first = Closing.closeAll(all);
        group.forget(this);
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "CudaBuffers" + Arrays.toString(new int[] {buffers.size()}) + " over " + heap;
    }
}
