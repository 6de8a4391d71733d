package ep4j.cli.bench;

import java.time.Duration;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Where the bench's ranks meet and pool what they measured: threads of this JVM
 * ({@link ThreadRanks}), or processes of a job, one rank each ({@link ProcessRanks}). The timing
 * code is the same for both: its barriers come from {@link #barrier}, and once a case has run,
 * {@link #pool} gives every process the figures of every rank (the slowest rank's median needs
 * them all).
 */
interface BenchRanks extends AutoCloseable {
    /** How long a rank waits for the others at a barrier or a pooling before it fails. */
    Duration TIMEOUT = Duration.ofSeconds(600);

    /** The ranks of the group. */
    int size();

    /**
     * A barrier of every rank.
     *
     * @param onRelease runs once per passage in this process, before any of its ranks leaves,
     *                  given the {@link System#nanoTime()} at which the last rank arrived (in a
     *                  job, as this process's clock reads it: see the implementations)
     */
    RankBarrier barrier(LongConsumer onRelease);

    /**
     * Fills in {@code v[row][rank]} of every rank this process does not drive, from the process
     * that does; in one JVM every column is here already. Called by every process at the same
     * point (a collective in a job), outside the rank threads.
     *
     * @param what   what is pooled, for messages
     * @param tables {@code [rows][size()]} each, this process's columns filled in
     */
    void pool(String what, double[][]... tables);

    /** Makes every rank waiting at any barrier fail at once (this process failed outside them). */
    void breakAll();

    /** How the ranks meet, one phrase, for the report and bench.json. */
    String describe();

    /** What the reader of the figures must know about how the ranks met (empty in one JVM). */
    List<String> notes();

    @Override
    void close();

    /** Every rank a thread of this JVM. */
    static BenchRanks threads(int ranks) {
        return new ThreadRanks(ranks, TIMEOUT);
    }
}
