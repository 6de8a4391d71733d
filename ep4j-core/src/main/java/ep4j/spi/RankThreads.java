package ep4j.spi;

import ep4j.EpException;
import ep4j.EpGroup;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/** Runs one task per rank on its own thread; the first failure aborts the group and is rethrown. */
public final class RankThreads {
    private RankThreads() {
    }

    public static <T> List<T> run(int[] ranks, EpGroup.RankTask<T> task, Consumer<Throwable> abort) {
        List<T> results = new ArrayList<>();
        AtomicReference<Throwable> first = new AtomicReference<>();
        Object[] out = new Object[ranks.length];
        Thread[] threads = new Thread[ranks.length];
        for (int i = 0; i < ranks.length; i++) {
            int slot = i;
            int rank = ranks[i];
            threads[i] = Thread.ofPlatform().name("ep4j-rank-" + rank).start(() -> {
                try {
                    out[slot] = task.run(rank);
                } catch (Throwable t) {
                    if (first.compareAndSet(null, t)) {
                        abort.accept(t);
                    }
                }
            });
        }
        for (Thread t : threads) {
            boolean interrupted = false;
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        Throwable failure = first.get();
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error err) {
            throw err;
        }
        if (failure != null) {
            throw new EpException("a rank task failed", failure);
        }
        for (Object o : out) {
            @SuppressWarnings("unchecked")
            T t = (T) o;
            results.add(t);
        }
        return results;
    }
}
