package ep4j.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.EpException;
import ep4j.EpGroup;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RankThreadsTest {
    private static final int[] THREE = {0, 1, 2};

    @Test
    void aFailureInterruptsRanksBlockedInTheirOwnCode() {
        List<Throwable> aborts = new CopyOnWriteArrayList<>();
        RuntimeException boom = new IllegalStateException("rank 0 failed");
        RuntimeException thrown = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(
                RuntimeException.class, () -> RankThreads.run(THREE, r -> {
                    if (r == 0) {
                        Thread.sleep(100);
                        throw boom;
                    }
                    new CountDownLatch(1).await(); // forever, unless interrupted
                    return null;
                }, aborts::add)));
        assertSame(boom, thrown);
        assertEquals(List.of(boom), aborts, "the group is aborted once, with the first failure");
        assertEquals(2, thrown.getSuppressed().length, Arrays.toString(thrown.getSuppressed()));
        for (Throwable s : thrown.getSuppressed()) {
            assertInstanceOf(InterruptedException.class, s);
        }
    }

    @Test
    void everyFailureIsReportedTheFirstThrownTheOthersSuppressed() {
        Set<String> all = new HashSet<>(List.of("r0", "r1", "r2"));
        RuntimeException thrown = assertThrows(RuntimeException.class,
                () -> RankThreads.run(THREE, r -> {
                    throw new IllegalArgumentException("r" + r);
                }, t -> { }));
        Set<String> seen = new HashSet<>();
        seen.add(thrown.getMessage());
        for (Throwable s : thrown.getSuppressed()) {
            seen.add(s.getMessage());
        }
        assertEquals(all, seen);
    }

    @Test
    void aCheckedFailureIsWrapped() {
        EpException e = assertThrows(EpException.class, () -> RankThreads.run(new int[] {0}, r -> {
            throw new java.io.IOException("disk");
        }, t -> { }));
        assertInstanceOf(java.io.IOException.class, e.getCause());
    }

    @Test
    void interruptingTheCallerEndsTheWaitAtOnceEvenIfARankIgnoresInterrupts() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch started = new CountDownLatch(2);
        List<Throwable> aborts = new CopyOnWriteArrayList<>();
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        AtomicBoolean stillInterrupted = new AtomicBoolean();
        Thread caller = new Thread(() -> {
            try {
                RankThreads.run(new int[] {0, 1}, r -> {
                    started.countDown();
                    while (!stop.get()) {
                        Thread.onSpinWait(); // user code that never looks at its interrupt status
                    }
                    return null;
                }, aborts::add);
            } catch (Throwable t) {
                outcome.set(t);
                stillInterrupted.set(Thread.currentThread().isInterrupted());
            }
        });
        caller.start();
        assertTrue(started.await(10, TimeUnit.SECONDS));
        long t0 = System.nanoTime();
        caller.interrupt();
        caller.join(10_000);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        stop.set(true);
        assertTrue(!caller.isAlive() && ms < 5000, "the caller returned after " + ms + " ms");
        EpException e = assertInstanceOf(EpException.class, outcome.get());
        assertInstanceOf(InterruptedException.class, e.getCause());
        assertTrue(e.getMessage().contains("[0, 1]"), e.getMessage());
        assertTrue(stillInterrupted.get(), "the caller's interrupt status is kept");
        assertEquals(1, aborts.size(), "the group is aborted");
    }

    @Test
    void onEachRankOfACpuGroupHonoursTheCallerInterruptToo() throws Exception {
        try (EpGroup g = EpGroup.cpu(2)) {
            List<Throwable> outcome = new ArrayList<>();
            CountDownLatch started = new CountDownLatch(2);
            Thread caller = new Thread(() -> {
                try {
                    g.onEachRank(r -> {
                        started.countDown();
                        Thread.sleep(60_000);
                        return null;
                    });
                } catch (Throwable t) {
                    synchronized (outcome) {
                        outcome.add(t);
                    }
                }
            });
            caller.start();
            assertTrue(started.await(10, TimeUnit.SECONDS));
            caller.interrupt();
            caller.join(10_000);
            assertTrue(!caller.isAlive());
            synchronized (outcome) {
                assertInstanceOf(EpException.class, outcome.get(0));
            }
        }
    }

    @Test
    void resultsComeInRankOrder() {
        assertEquals(List.of(0, 10, 20), RankThreads.run(THREE, r -> r * 10, t -> { }));
    }
}
