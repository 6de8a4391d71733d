package ep4j;

import ep4j.spi.Backends;
import ep4j.spi.RankThreads;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A group of ranks that communicate. Formed once, by a backend ({@link #open}); each rank then
 * works through its own {@link EpBuffer}. In one JVM driving every rank, {@link #onEachRank}
 * runs a task on a thread per rank, which is how collective calls are made.
 *
 * <pre>{@code
 * try (EpGroup group = EpGroup.auto(2);
 *      EpBuffers buffers = group.allocate(BufferSpec.normal(7168, 4096))) {
 *     group.onEachRank(r -> { EpBuffer buf = buffers.rank(r); ...; return null; });
 * }
 * }</pre>
 *
 * <p><b>Failure is final.</b> Once a group is aborted ({@link #abort}, or a failing rank in
 * {@link #onEachRank}), every collective waiting on any of its buffers fails at once with an
 * {@link EpException} naming the cause, and so does every later one: the ranks' call sequences
 * are no longer in step. Form a new group to go on.
 *
 * <p><b>Ownership.</b> The group owns the buffers it allocates: closing it closes them. Tensors
 * it allocates belong to the caller.
 */
public interface EpGroup extends AutoCloseable {
    /**
     * Ranks as threads of this JVM over host memory (the CPU backend).
     *
     * @param ranks 1 to 1024
     * @return the group
     * @throws InvalidArgumentException when {@code ranks} is out of range
     */
    static EpGroup cpu(int ranks) {
        return open(GroupSpec.ranks(ranks).backend("cpu"));
    }

    /**
     * One rank per local GPU, driven by this JVM (the CUDA backend).
     *
     * @param ranks 1 to the number of GPUs (at most 8, one node)
     * @return the group
     * @throws EpException when the CUDA backend cannot run that many ranks here (saying why)
     */
    static EpGroup localGpus(int ranks) {
        return open(GroupSpec.ranks(ranks).backend("cuda"));
    }

    /**
     * {@code ranks} ranks over the first {@code gpus} local GPUs, round robin: several ranks per
     * GPU when {@code gpus < ranks}, to test group sizes beyond the machine (see
     * {@link GroupSpec#gpus}).
     *
     * @param ranks the group size
     * @param gpus  1 to {@code ranks}
     * @return the group
     * @throws EpException when the CUDA backend cannot run that here (saying why)
     */
    static EpGroup localGpus(int ranks, int gpus) {
        return open(GroupSpec.ranks(ranks).gpus(gpus).backend("cuda"));
    }

    /**
     * This process's rank of a job of one process per GPU, as torchrun, {@code srun},
     * {@code mpirun} or {@code ep4j launch} started it: the group
     * {@link GroupSpec#fromEnvironment()} describes. The processes meet at rank 0's rendezvous
     * store while the group forms.
     *
     * @return the group, of which this process drives one rank ({@link #localRanks()})
     * @throws InvalidArgumentException when a launcher variable is missing, malformed or
     *                                  contradicts another (naming it)
     * @throws EpException              when the backend cannot form such a group here, or the
     *                                  ranks cannot meet (saying why)
     */
    static EpGroup fromEnvironment() {
        return open(GroupSpec.fromEnvironment());
    }

    /**
     * The GPU backend when this machine can run {@code ranks} ranks on GPUs, else the CPU backend.
     *
     * @param ranks the group size
     * @return the group
     */
    static EpGroup auto(int ranks) {
        return open(GroupSpec.ranks(ranks));
    }

    /**
     * A group as {@code spec} describes it, on the backend it names (or the best available for
     * "auto"); backends are found with {@link java.util.ServiceLoader}.
     *
     * @param spec the group (concluded here)
     * @return the group
     * @throws InvalidArgumentException when the spec is invalid or names no known backend
     * @throws EpException              when the backend cannot form the group here (saying why)
     */
    static EpGroup open(GroupSpec spec) {
        return Backends.open(spec.conclude());
    }

    /**
     * The backend's name.
     *
     * @return "cpu" or "cuda"
     */
    String backend();

    /**
     * The number of ranks.
     *
     * @return {@code R}
     */
    int size();

    /**
     * The ranks this process drives (all of them in one JVM).
     *
     * @return the ranks, ascending (a new array)
     */
    int[] localRanks();

    /**
     * Allocates one buffer per local rank; every rank's memory is fixed here (nothing is
     * allocated per call on the GPU). Collective in spirit: all ranks use the same spec.
     *
     * @param spec what the buffers must hold (concluded here)
     * @return the buffers, owned by the caller and by this group (closing either frees them)
     * @throws InvalidArgumentException when the spec is invalid
     * @throws AllocationException      when the memory cannot be had
     * @throws IllegalStateException    when the group was closed
     */
    EpBuffers allocate(BufferSpec spec);

    /**
     * Zero-filled memory on a rank's device (host memory on the CPU backend).
     *
     * @param rank  a local rank
     * @param dtype the element type
     * @param shape the sizes, each {@code >= 0}
     * @return a tensor that owns its memory: closing it frees it
     * @throws InvalidArgumentException for an unknown rank or a bad shape
     * @throws AllocationException      when the memory cannot be had
     */
    Tensor allocate(int rank, DType dtype, long... shape);

    /**
     * A copy of a host tensor on a rank's device.
     *
     * @param rank a local rank
     * @param host a host tensor
     * @return a tensor that owns its memory: closing it frees it
     * @throws InvalidArgumentException for an unknown rank or a tensor not in host memory
     * @throws AllocationException      when the memory cannot be had
     */
    Tensor upload(int rank, Tensor host);

    /**
     * A host copy of a tensor, wherever it lives (waits for the work that produces it).
     *
     * @param tensor a tensor of this group's devices, or of the host
     * @return a host tensor that owns its memory: closing it frees it
     * @throws InvalidArgumentException for a tensor of a device outside the group
     * @throws AllocationException      when the memory cannot be had
     */
    Tensor download(Tensor tensor);

    /**
     * Fails the collectives ranks are waiting in, at once, naming the cause; the group stays
     * aborted (see the class comment). Twice is harmless (the first cause is kept).
     *
     * @param cause why, or null
     */
    void abort(@Nullable Throwable cause);

    /**
     * Runs {@code task} on one thread per local rank and returns the results in rank order. If a
     * rank fails, the group is aborted (so the others stop waiting in collectives) and the other
     * rank threads are interrupted; the first failure is thrown, the others attached as
     * suppressed. If the calling thread is interrupted, the group is aborted, the rank threads
     * interrupted, and this returns at once with an {@link EpException} (interrupt status kept).
     *
     * @param <T>  the task's result type
     * @param task what each rank runs, given its rank
     * @return the results, in rank order (null where a task returned null)
     * @throws RuntimeException the first failure of a rank (checked ones wrapped in an {@link EpException})
     */
    default <T> List<T> onEachRank(RankTask<T> task) {
        return RankThreads.run(localRanks(), task, this::abort);
    }

    /**
     * Closes every buffer the group allocated (ranks still waiting fail at once) and frees the
     * group's devices. Twice is harmless.
     *
     * @throws EpException when freeing failed (the group is closed nonetheless)
     */
    @Override
    void close();

    /**
     * The work of one rank in {@link #onEachRank}.
     *
     * @param <T> the result type
     */
    @FunctionalInterface
    interface RankTask<T> {
        /**
         * Runs on the rank's own thread.
         *
         * @param rank the rank
         * @return a result, or null
         * @throws Exception any failure: it aborts the group
         */
        @Nullable T run(int rank) throws Exception;
    }
}
