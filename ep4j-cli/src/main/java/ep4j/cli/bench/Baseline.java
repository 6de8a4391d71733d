package ep4j.cli.bench;

import ep4j.EpGroup;

/**
 * What a benchmark case is compared with: the time the plain hardware takes to move the same
 * bytes between the same ranks, measured in the same run with the same arrangement. On the CPU
 * backend this is {@link HostCopyBaseline} (a {@code MemorySegment.copy} per pair of ranks, one
 * thread per rank); on GPUs it will be a peer-to-peer copy (see {@link Baselines#forGroup}).
 *
 * <p>The bench interleaves baseline and case repetitions (copy, call, copy, call, ...) on the
 * same rank threads, so both see the same machine state, which matters on a shared host.
 */
public interface Baseline {
    /** Short name for the table footer and bench.json, e.g. "host copy". */
    String name();

    /** One sentence on what is measured. */
    String description();

    /**
     * Plans moving {@code bytes[dst][src]} bytes from every rank {@code src} to every rank
     * {@code dst} ({@code src == dst} included: a rank's own tokens count, as in the logical
     * bandwidth). Called once, on the caller's thread, before the ranks start.
     */
    Copy prepare(EpGroup group, long[][] bytes);

    /** False when there is no baseline here; {@link #description()} then says why. */
    default boolean measured() {
        return true;
    }

    /** True when only the bytes that cross to another rank are moved (GPUs: the NVLink bytes). */
    default boolean crossOnly() {
        return false;
    }

    /** One planned transfer pattern. {@link #setUp} and {@link #run} are called on the rank's own thread. */
    interface Copy extends AutoCloseable {
        /** False when this backend has no baseline yet; then {@link #run} is never called. */
        boolean available();

        /** Why {@link #available()} is false (or a note), for the report. */
        String note();

        /** Allocates and touches what {@code rank} owns; every rank calls it before any {@link #run}. */
        void setUp(int rank);

        /**
         * One repetition on {@code rank}: all ranks call it together (between barriers) and it
         * returns when this rank's share is done (GPU: when its copies have completed).
         */
        void run(int rank);

        /** Frees everything (after the ranks are done). */
        @Override
        void close();
    }
}
