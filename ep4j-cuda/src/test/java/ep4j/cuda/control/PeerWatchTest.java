package ep4j.cuda.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.process.Liveness;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** PeerWatch tells a dead peer process from a live one, and stays quiet while a wait is young. */
class PeerWatchTest {
    @Test
    void aKilledPeerIsNamedOnceALookIsDue() throws Exception {
        Process peer = new ProcessBuilder("sleep", "60").start();
        try {
            long start = peer.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
            PeerWatch w = new PeerWatch(0, new long[] {ProcessHandle.current().pid(), peer.pid()},
                    new long[] {Liveness.selfStart(), start});
            assertTrue(w.active());
            assertEquals(-1, w.deadPeerNow(), "both live");
            peer.destroyForcibly();
            assertTrue(peer.waitFor(10, TimeUnit.SECONDS));
            assertEquals(1, w.deadPeerNow(), "rank 1 is gone");
            assertEquals(peer.pid(), w.pid(1));
            long t0 = System.nanoTime();
            assertEquals(-1, w.deadPeer(t0, t0 + PeerWatch.QUIET_NANOS / 2), "a young wait does not look");
            long late = t0 + PeerWatch.QUIET_NANOS;
            assertEquals(1, w.deadPeer(t0, late), "a wait that lasted looks");
            assertEquals(-1, w.deadPeer(t0, late + PeerWatch.INTERVAL_NANOS / 2), "and not again before the interval");
            assertEquals(1, w.deadPeer(t0, late + PeerWatch.INTERVAL_NANOS), "but after it");
        } finally {
            peer.destroyForcibly();
        }
    }

    @Test
    void aGroupInOneProcessWatchesNothing() {
        assertFalse(PeerWatch.NONE.active());
        assertEquals(-1, PeerWatch.NONE.deadPeer(0, Long.MAX_VALUE / 2));
        assertEquals(-1, PeerWatch.NONE.deadPeerNow());
    }
}
