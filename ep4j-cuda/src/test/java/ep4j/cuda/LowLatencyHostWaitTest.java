package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;

/**
 * The host side of the low-latency signal mirror (no GPU needed): the words the kernels write
 * (low_latency.cuh: o_sig / o_free into the region and into every rank's host block) fit both,
 * and the host waits on the peers' words, not on its own, before it launches a kernel.
 */
class LowLatencyHostWaitTest {
    @Test
    void signalWordsAreDistinctAndFitTheHeaderAndTheHostBlock() {
        LowLatencyLayout layout = new LowLatencyLayout(2, 20, 8, 640, 9);
        Set<Long> seen = new HashSet<>();
        for (int kind = 0; kind < LowLatencyLayout.KINDS; kind++) {
            for (int slot = 0; slot < 2; slot++) {
                for (int rank = 0; rank < LowLatencyLayout.MAX_RANKS; rank++) {
                    long at = LowLatencyLayout.signal(kind, slot, rank);
                    assertEquals(LowLatencyLayout.signal(kind, slot) + 8L * rank, at);
                    assertEquals(0, at % 8, "u64 words are 8-byte aligned");
                    assertTrue(at + 8 <= LowLatencyLayout.SIGNAL_BYTES, "inside the host block");
                    assertTrue(seen.add(at), "one word per (kind, slot, rank)");
                }
            }
        }
        assertEquals(LowLatencyLayout.SIGNAL_BYTES, 8L * seen.size());
        assertTrue(LowLatencyLayout.COUNTER >= LowLatencyLayout.SIGNAL_BYTES, "the block counter is no signal");
        assertTrue(LowLatencyLayout.COUNTER + 4 <= layout.data(0), "the header ends before slot 0");
    }

    @Test
    void theHostWaitsForEveryPeerButNotItself() {
        int ranks = 4;
        long base = LowLatencyLayout.signal(LowLatencyLayout.CSIG, 1);
        AtomicLongArray words = new AtomicLongArray((int) (LowLatencyLayout.SIGNAL_BYTES / 8));
        for (int j = 0; j < ranks; j++) {
            words.set((int) (base / 8) + j, j == 2 ? 0 : 3); // rank 2 (ourselves) has not counted yet
        }
        assertEquals(-1, LowLatency.firstMissing(o -> words.get((int) (o / 8)), ranks, 2, base, 3, 1_000_000L));
        words.set((int) (base / 8) + 3, 2); // peer 3 one call behind
        assertEquals(3, LowLatency.firstMissing(o -> words.get((int) (o / 8)), ranks, 2, base, 3, 1_000_000L));
        // Seen from rank 0, rank 2 is a peer too, and the first one missing.
        assertEquals(2, LowLatency.firstMissing(o -> words.get((int) (o / 8)), ranks, 0, base, 3, 1_000_000L));
    }

    @Test
    void aWordThatArrivesDuringTheWaitEndsIt() throws Exception {
        long base = LowLatencyLayout.signal(LowLatencyLayout.DSIG, 0);
        AtomicLongArray words = new AtomicLongArray((int) (LowLatencyLayout.SIGNAL_BYTES / 8));
        Thread peer = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
            words.set((int) (base / 8) + 1, 1);
        });
        try {
            assertEquals(-1, LowLatency.firstMissing(o -> words.get((int) (o / 8)), 2, 0, base, 1, 10_000_000_000L));
        } finally {
            peer.join();
        }
    }
}
