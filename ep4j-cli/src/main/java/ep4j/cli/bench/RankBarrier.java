package ep4j.cli.bench;

/**
 * Where the bench's ranks wait for each other ({@link BenchRanks#barrier}). Every barrier has an
 * action, given when it is made, that runs once per passage in each process, before any of that
 * process's ranks leaves, with the time at which the last rank arrived.
 */
interface RankBarrier {
    /**
     * Waits for every rank of the group.
     *
     * @throws IllegalStateException when another rank failed, or the ranks did not meet in time
     */
    void await();

    /** Makes every rank waiting here fail at once (call it when a rank failed). */
    void breakAll();
}
