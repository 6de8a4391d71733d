package ep4j.cli.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/**
 * The shared-memory barrier, each rank a thread with its own mapping of the file (as a process
 * has): nobody leaves before all arrived, all read the same release time, a missing rank is
 * named, a failed rank breaks it for all, and the file goes when its creator unlinks or closes it.
 */
class ShmBarrierTest {
    static final Duration LONG = Duration.ofSeconds(20);

    /** A thread per rank (the common pool may have one thread on a small machine). */
    final ExecutorService threads = Executors.newCachedThreadPool();

    @org.junit.jupiter.api.AfterEach
    void stop() {
        threads.shutdownNow();
    }

    @Test
    void nobodyLeavesBeforeAllArriveAndAllReadTheLastArrivalsTime() throws Exception {
        int rounds = 2000;
        AtomicIntegerArray arrived = new AtomicIntegerArray(rounds);
        long[][] before = new long[2][rounds];
        long[][] released = new long[2][rounds];
        long[][] after = new long[2][rounds];
        try (ShmBarrier b0 = ShmBarrier.create(2, 0, "test barrier");
             ShmBarrier b1 = ShmBarrier.open(b0.path(), 2, 1, "test barrier")) {
            ShmBarrier[] bs = {b0, b1};
            CompletableFuture<?>[] ranks = new CompletableFuture<?>[2];
            for (int r = 0; r < 2; r++) {
                int rank = r;
                ranks[r] = CompletableFuture.runAsync(() -> {
                    for (int i = 0; i < rounds; i++) {
                        arrived.incrementAndGet(i);
                        before[rank][i] = System.nanoTime();
                        released[rank][i] = bs[rank].await(LONG);
                        after[rank][i] = System.nanoTime();
                        assertEquals(2, arrived.get(i), "rank " + rank + " left round " + i + " before both arrived");
                    }
                }, threads);
            }
            CompletableFuture.allOf(ranks).get(60, TimeUnit.SECONDS);
        }
        for (int i = 0; i < rounds; i++) {
            assertEquals(released[0][i], released[1][i], "round " + i + ": one release time for every rank");
            long t = released[0][i];
            assertTrue(t >= Math.max(before[0][i], before[1][i]), "round " + i + ": released at the last arrival");
            assertTrue(t <= Math.min(after[0][i], after[1][i]), "round " + i + ": released before anyone left");
        }
    }

    @Test
    void aMissingRankTimesOutNamedAndTheWaitersAreToldWhoGaveUp() throws Exception {
        try (ShmBarrier b0 = ShmBarrier.create(3, 0, "test barrier");
             ShmBarrier b1 = ShmBarrier.open(b0.path(), 3, 1, "test barrier")) {
            CompletableFuture<Long> one = CompletableFuture.supplyAsync(() -> b1.await(LONG), threads);
            while (b0.missing(1).contains(1)) {
                Thread.onSpinWait();
            }
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> b0.await(Duration.ofMillis(200)));
            assertEquals("test barrier: rank 2 did not arrive within 200 ms (barrier 1, rank 0 waiting)",
                    e.getMessage());
            ExecutionException woken = assertThrows(ExecutionException.class, () -> one.get(10, TimeUnit.SECONDS));
            assertEquals("test barrier: rank 0 failed or gave up (its own output says why); rank 1 stopped waiting at"
                    + " barrier 1", woken.getCause().getMessage());
        }
        try (ShmBarrier alone = ShmBarrier.create(3, 0, "test barrier")) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> alone.await(Duration.ofMillis(50)));
            assertTrue(e.getMessage().startsWith("test barrier: ranks 1, 2 did not arrive within 50 ms"),
                    e.getMessage());
        }
    }

    @Test
    void aFailedRankBreaksTheBarrierForTheOthers() throws Exception {
        try (ShmBarrier b0 = ShmBarrier.create(2, 0, "test barrier");
             ShmBarrier b1 = ShmBarrier.open(b0.path(), 2, 1, "test barrier")) {
            CompletableFuture<Long> zero = CompletableFuture.supplyAsync(() -> b0.await(LONG), threads);
            Thread.sleep(50);
            assertFalse(zero.isDone(), "rank 0 waits for rank 1");
            b1.breakAll();
            ExecutionException e = assertThrows(ExecutionException.class, () -> zero.get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().startsWith("test barrier: rank 1 failed or gave up"), e.toString());
        }
    }

    @Test
    void theFileGoesOnceUnlinkedAndTheBarrierStillWorks() throws Exception {
        ShmBarrier b0 = ShmBarrier.create(2, 0, "test barrier");
        ShmBarrier b1 = ShmBarrier.open(b0.path(), 2, 1, "test barrier");
        try {
            assertTrue(Files.exists(b0.path()), b0.path().toString());
            assertTrue(b0.path().getFileName().toString().startsWith("ep4j." + ProcessHandle.current().pid() + "."),
                    "named as the CPU backend names its files, so its sweep removes a killed job's: " + b0.path());
            b0.unlink();
            assertFalse(Files.exists(b0.path()), "unlinked once every rank mapped it");
            CompletableFuture<Long> one = CompletableFuture.supplyAsync(() -> b1.await(LONG), threads);
            assertEquals(b0.await(LONG), one.get(10, TimeUnit.SECONDS));
        } finally {
            b1.close();
            b0.close();
        }
        try (ShmBarrier kept = ShmBarrier.create(2, 0, "test barrier")) {
            assertTrue(Files.exists(kept.path()));
            kept.close();
            assertFalse(Files.exists(kept.path()), "the creator's close removes it");
        }
        UncheckedIOException notOne = assertThrows(UncheckedIOException.class, () -> {
            try (ShmBarrier three = ShmBarrier.create(3, 0, "test barrier")) {
                ShmBarrier.open(three.path(), 2, 1, "test barrier").close();
            }
        });
        assertTrue(notOne.getMessage().endsWith("it holds 448 bytes, expected 384"), "a barrier of 3 ranks, not 2: "
                + notOne.getMessage());
    }
}
