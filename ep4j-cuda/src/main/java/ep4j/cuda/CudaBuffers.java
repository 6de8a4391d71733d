package ep4j.cuda;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.InvalidArgumentException;
import ep4j.cuda.control.PeerWatch;
import ep4j.cuda.control.RankRuntime;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.memory.HeapLayout;
import ep4j.cuda.memory.ProcessHeaps;
import ep4j.cuda.memory.SymmetricHeap;
import ep4j.spi.Closing;
import ep4j.spi.Rendezvous;
import java.nio.charset.StandardCharsets;
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
    /** The heaps' owner: a SymmetricHeap (one process) or ProcessHeaps (one process per rank). */
    private final AutoCloseable heap;
    /** The buffer of each rank this process drives, by rank; null for the others. */
    private final EpBuffer[] byRank;
    private final List<EpBuffer> buffers;

    /** Makes the heaps and every local rank's buffer; when a step fails, what was made is freed and the failure thrown. */
    CudaBuffers(CudaGroup group, BufferSpec spec) {
        this.group = group;
        int ranks = group.size();
        int[] local = group.localRanks();
        HeapLayout layout = new HeapLayout(ranks, spec);
        Rendezvous rendezvous = group.rendezvous();
        String name = group.nextBuffersName();
        int sms = Integer.MAX_VALUE;
        for (int r : local) {
            sms = Math.min(sms, group.context(r).device().multiprocessorCount() / group.ranksPerGpu());
        }
        // Every rank's low-latency launches have the same grid (receivers count one arrival per
        // rank, but tokens are dealt to blocks by index): the SMs of the rank that has fewest.
        if (rendezvous != null) {
            sms = fewestOverRanks(rendezvous, name, sms, spec.timeout());
        }
        int lowLatencyBlocks = Math.max(1, sms);
        long[] bases;
        AutoCloseable owner;
        ProcessHeaps processes = null;
        if (rendezvous == null) {
            List<CudaContext> contexts = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                contexts.add(group.context(r));
            }
            SymmetricHeap h = SymmetricHeap.allocate(contexts, layout.heapBytes);
            bases = h.bases();
            owner = h;
        } else {
            ProcessHeaps p = ProcessHeaps.exchange(group.context(local[0]), rendezvous, name, layout.heapBytes,
                    spec.timeout());
            bases = p.bases();
            owner = p;
            processes = p;
        }
        EpBuffer[] all = new EpBuffer[ranks];
        List<EpBuffer> made = new ArrayList<>();
        try {
            for (int r : local) {
                CudaContext c = group.context(r);
                c.makeCurrent();
                DeviceMemory localMemory = DeviceMemory.allocate(c, Math.max(layout.localBytes, 256));
                RankRuntime rt;
                try {
                    localMemory.fill((byte) 0);
                    PeerWatch peers = processes == null ? PeerWatch.NONE
                            : new PeerWatch(r, processes.pids(), processes.starts());
                    rt = new RankRuntime(r, ranks, spec, layout, c, group.kernels(r), bases, localMemory, sms, peers);
                } catch (RuntimeException | Error e) {
                    localMemory.close();
                    throw e;
                }
                all[r] = new CudaBuffer(rt, lowLatencyBlocks);
                made.add(all[r]);
            }
        } catch (RuntimeException | Error e) {
            List<AutoCloseable> undo = new ArrayList<>(made);
            undo.add(owner);
            Closing.closeAllInto(e, undo.toArray(AutoCloseable[]::new));
            throw e;
        }
        this.heap = owner;
        this.byRank = all;
        this.buffers = List.copyOf(made);
    }

    /** The fewest SMs any rank of the job has for its kernels (each rank publishes its own). */
    private static int fewestOverRanks(Rendezvous rendezvous, String name, int mine, java.time.Duration timeout) {
        String key = "ep4j/" + name + "/sms/";
        rendezvous.put(key + rendezvous.rank(), Integer.toString(mine).getBytes(StandardCharsets.UTF_8));
        int fewest = mine;
        for (int r = 0; r < rendezvous.size(); r++) {
            fewest = Math.min(fewest, Integer.parseInt(new String(rendezvous.get(key + r, timeout), StandardCharsets.UTF_8)));
        }
        return fewest;
    }

    @Override
    public EpBuffer rank(int rank) {
        if (rank < 0 || rank >= byRank.length || byRank[rank] == null) {
            throw new InvalidArgumentException("rank", rank, "a rank this process drives: "
                    + Arrays.toString(group.localRanks()));
        }
        return byRank[rank];
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
        all.add(heap); // after the buffers: each synchronizes its stream first (closing twice is harmless)
        RuntimeException first = Closing.closeAll(all);
        group.forget(this);
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "CudaBuffers of ranks " + Arrays.toString(group.localRanks()) + " over " + heap;
    }
}
