package ep4j.spi;

import ep4j.EpException;
import ep4j.EpGroup;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Runs one task per rank, each on its own thread, for {@link EpGroup#onEachRank}; a backend may
 * use it for its own per-rank work.
 *
 * <ul>
 *   <li>When a rank fails, the group is aborted (so ranks waiting in a collective fail at once)
 *       and every other rank thread is interrupted (so a rank blocked in its own code stops too).
 *       The first failure is thrown, with the others attached as
 *       {@linkplain Throwable#getSuppressed() suppressed}.</li>
 *   <li>When the calling thread is interrupted while it waits, the group is aborted and the rank
 *       threads interrupted, and the call returns at once with an {@link EpException} whose
 *       cause is the {@link InterruptedException}; the caller's interrupt status is set again.
 *       Rank threads that ignore interruption are left to end on their own (they are daemon
 *       threads).</li>
 * </ul>
 */
public final class RankThreads {
    private RankThreads() {
    }

    /**
     * Runs {@code task} for every rank and returns the results in the order of {@code ranks}.
     *
     * @param <T>   the task's result type
     * @param ranks the ranks, one thread each
     * @param task  what each rank runs
     * @param abort called once, with the first failure (or the caller's interruption)
     * @return the results, one per rank (null where a task returned null)
     * @throws RuntimeException or {@link Error}: the first failure of a rank, as thrown (checked
     *         exceptions wrapped in an {@link EpException}), the others suppressed in it
     * @throws EpException when the calling thread was interrupted
     */
    public static <T> List<T> run(int[] ranks, EpGroup.RankTask<T> task, Consumer<Throwable> abort) {
        Failures failures = new Failures(abort);
        Object[] out = new Object[ranks.length];
        Thread[] threads = new Thread[ranks.length];
        for (int i = 0; i < ranks.length; i++) {
            int slot = i;
            int rank = ranks[i];
            threads[i] = Thread.ofPlatform().name("ep4j-rank-" + rank).daemon(true).unstarted(() -> {
                try {
                    out[slot] = task.run(rank);
                } catch (Throwable t) {
                    if (failures.add(t)) {
                        interruptAll(threads, Thread.currentThread());
                    }
                }
            });
        }
        for (Thread t : threads) {
            t.start();
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                interruptAll(threads, null);
                failures.abort(e);
                Thread.currentThread().interrupt();
                throw new EpException("interrupted while ranks " + running(ranks, threads)
                        + " were running; the group was aborted and the rank threads interrupted", e);
            }
        }
        failures.throwIfAny();
        List<T> results = new ArrayList<>(out.length);
        for (Object o : out) {
            @SuppressWarnings("unchecked")
            T t = (T) o;
            results.add(t);
        }
        return results;
    }

    private static void interruptAll(Thread[] threads, Thread except) {
        for (Thread t : threads) {
            if (t != except) {
                t.interrupt();
            }
        }
    }

    private static String running(int[] ranks, Thread[] threads) {
        List<Integer> alive = new ArrayList<>();
        for (int i = 0; i < threads.length; i++) {
            if (threads[i].isAlive()) {
                alive.add(ranks[i]);
            }
        }
        return alive.isEmpty() ? Arrays.toString(ranks) : alive.toString();
    }

    /** The failures of the ranks, in the order they happened; the first one aborts the group. */
    private static final class Failures {
        private final Consumer<Throwable> abort;
        private final List<Throwable> all = new ArrayList<>();
        private boolean aborted;

        Failures(Consumer<Throwable> abort) {
            this.abort = abort;
        }

        /** Records {@code t}; true when it is the first failure (the group was aborted with it). */
        boolean add(Throwable t) {
            synchronized (this) {
                all.add(t);
                if (aborted) {
                    return false;
                }
                aborted = true;
            }
            abortGroup(t);
            return true;
        }

        private void abortGroup(Throwable cause) {
            try {
                abort.accept(cause);
            } catch (RuntimeException | Error e) {
                cause.addSuppressed(e);
            }
        }

        void abort(Throwable cause) {
            synchronized (this) {
                if (aborted) {
                    return;
                }
                aborted = true;
            }
            abortGroup(cause);
        }

        synchronized void throwIfAny() {
            if (all.isEmpty()) {
                return;
            }
            Throwable first = all.get(0);
            for (Throwable t : all.subList(1, all.size())) {
                if (t != first) {
                    first.addSuppressed(t);
                }
            }
            if (first instanceof RuntimeException re) {
                throw re;
            }
            if (first instanceof Error err) {
                throw err;
            }
            throw new EpException("a rank task failed", first);
        }
    }
}
