package ep4j;

import ep4j.spi.Backends;
import ep4j.spi.RankThreads;
import java.util.List;

/**
 * A group of ranks that communicate. Formed once; each rank then works through its own
 * {@link EpBuffer}. In one JVM driving every rank, {@link #onEachRank} runs a task on a thread
 * per rank, which is how collective calls are made.
 *
 * <pre>{@code
 * try (EpGroup group = EpGroup.auto(2);
 *      EpBuffers buffers = group.allocate(BufferSpec.normal(7168, 4096))) {
 *     group.onEachRank(r -> { EpBuffer buf = buffers.rank(r); ...; return null; });
 * }
 * }</pre>
 */
public interface EpGroup extends AutoCloseable {
    /** Ranks as threads of this JVM over host memory. */
    static EpGroup cpu(int ranks) {
        return open(GroupSpec.ranks(ranks).backend("cpu"));
    }

    /** One rank per local GPU, driven by this JVM. */
    static EpGroup localGpus(int ranks) {
        return open(GroupSpec.ranks(ranks).backend("cuda"));
    }

    /**
     * {@code ranks} ranks over the first {@code gpus} local GPUs, round robin: several ranks per
     * GPU when {@code gpus < ranks}, to test group sizes beyond the machine (see {@link GroupSpec#gpus}).
     */
    static EpGroup localGpus(int ranks, int gpus) {
        return open(GroupSpec.ranks(ranks).gpus(gpus).backend("cuda"));
    }

    /** The GPU backend when this machine can run {@code ranks} ranks on GPUs, else the CPU backend. */
    static EpGroup auto(int ranks) {
        return open(GroupSpec.ranks(ranks));
    }

    static EpGroup open(GroupSpec spec) {
        return Backends.open(spec.conclude());
    }

    /** "cpu" or "cuda". */
    String backend();

    int size();

    /** The ranks this process drives (all of them in one JVM). */
    int[] localRanks();

    /** Allocates one buffer per local rank; collective in spirit (all ranks use the same spec). */
    EpBuffers allocate(BufferSpec spec);

    /** Zero-filled memory on {@code rank}'s device (host for the CPU backend), owned by the tensor. */
    Tensor allocate(int rank, DType dtype, long... shape);

    /** A copy of a host tensor on {@code rank}'s device, owned by the returned tensor. */
    Tensor upload(int rank, Tensor host);

    /** A host copy of a tensor (wherever it lives), owned by the returned tensor. */
    Tensor download(Tensor tensor);

    /** Fails the collectives ranks are waiting in, at once, naming the cause. */
    void abort(Throwable cause);

    /**
     * Runs {@code task} on one thread per local rank and returns the results in rank order. If
     * any rank fails, the group is aborted so the others stop waiting, and the first failure is
     * thrown.
     */
    default <T> List<T> onEachRank(RankTask<T> task) {
        return RankThreads.run(localRanks(), task, this::abort);
    }

    @Override
    void close();

    @FunctionalInterface
    interface RankTask<T> {
        T run(int rank) throws Exception;
    }
}
