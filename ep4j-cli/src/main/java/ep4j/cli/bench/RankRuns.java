package ep4j.cli.bench;

import ep4j.EpException;
import ep4j.EpGroup;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@link EpGroup#onEachRank} with barriers ({@link RankClock}s, {@link RankBarrier}s) that are
 * broken when a rank fails, so the others stop waiting at once (in a job, the other processes
 * too); the failure reported is the first rank's own, not the "another rank failed" of the ranks
 * it woke.
 */
final class RankRuns {
    private RankRuns() {
    }

    /** Runs {@code task} on every rank this process drives; the first to fail runs every {@code breakBarrier}. */
    static <T> List<T> run(EpGroup group, EpGroup.RankTask<T> task, Runnable... breakBarrier) {
        AtomicReference<Throwable> first = new AtomicReference<>();
        try {
            return group.onEachRank(rank -> {
                try {
                    return task.run(rank);
                } catch (Throwable t) {
                    first.compareAndSet(null, t);
                    for (Runnable b : breakBarrier) {
                        b.run();
                    }
                    throw t;
                }
            });
        } catch (RuntimeException | Error e) {
            Throwable t = first.get();
            if (t == null || t == e) {
                throw e;
            }
            if (t instanceof RuntimeException re) {
                throw re;
            }
            if (t instanceof Error err) {
                throw err;
            }
            throw new EpException("a rank task failed", t);
        }
    }
}
