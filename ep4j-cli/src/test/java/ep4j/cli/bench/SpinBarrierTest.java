package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SpinBarrierTest {
    @Test
    void everyPhaseRunsTheActionOnceAndReleasesEveryParty() throws Exception {
        AtomicInteger actions = new AtomicInteger();
        AtomicInteger passed = new AtomicInteger();
        SpinBarrier b = new SpinBarrier(2, actions::incrementAndGet);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 1000; i++) {
                    b.await(10_000_000_000L);
                    passed.incrementAndGet();
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(1000, actions.get());
        assertEquals(2000, passed.get());
    }

    @Test
    void aPartyThatNeverComesIsATimeoutAndBreakingReleasesWaiters() throws Exception {
        SpinBarrier b = new SpinBarrier(2, null);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.await(50_000_000L));
        assertTrue(e.getMessage().contains("did not meet"), e.getMessage());
        SpinBarrier c = new SpinBarrier(2, null);
        Thread breaker = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException ignored) {
                return;
            }
            c.breakAll();
        });
        assertThrows(IllegalStateException.class, () -> c.await(10_000_000_000L));
        breaker.join();
    }
}
