package ep4j.spi;

import java.time.Duration;

/**
 * How the processes of one group meet at setup (one process per GPU: torchrun, Slurm, mpirun,
 * {@code ep4j launch}): a small key-value store every rank of the job reaches. A backend uses it
 * only while forming a group and allocating buffers (to publish what peers must map: shared
 * memory names, exported handles), never per call. Every wait is bounded. For backend
 * implementers; a multi-process group spec carries one ({@link ep4j.GroupSpec#process}).
 */
public interface Rendezvous extends AutoCloseable {
    /**
     * This process's rank.
     *
     * @return 0 to {@code size() - 1}
     */
    int rank();

    /**
     * The ranks of the job.
     *
     * @return {@code R}
     */
    int size();

    /**
     * A name unique to this job and the same on every rank (for shared-memory files and the like).
     *
     * @return letters, digits and dashes
     */
    String jobId();

    /**
     * Publishes {@code value} under {@code key} for every rank. A key is written once.
     *
     * @param key   a name chosen by the backend (rank-qualified where ranks publish apart)
     * @param value at most 64 KiB
     * @throws ep4j.EpException when the store cannot be reached or the key was already written
     */
    void put(String key, byte[] value);

    /**
     * The value some rank published under {@code key}, waiting for it.
     *
     * @param key     the name
     * @param timeout how long to wait
     * @return the value
     * @throws ep4j.EpTimeoutException when nobody published it in time
     */
    byte[] get(String key, Duration timeout);

    /**
     * Waits until every rank has reached the barrier {@code name}.
     *
     * @param name    the barrier (each name is used once per job)
     * @param timeout how long to wait
     * @throws ep4j.EpTimeoutException naming the ranks that did not arrive
     */
    void barrier(String name, Duration timeout);

    /**
     * Leaves the job's store. Where rank 0 serves the store, its close keeps serving until every
     * rank has left (bounded), so that late gets still succeed, then stops it.
     */
    @Override
    void close();
}
