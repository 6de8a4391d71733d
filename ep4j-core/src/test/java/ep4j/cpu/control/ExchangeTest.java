package ep4j.cpu.control;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.EpException;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/**
 * What a rank reports when it checks its peers' posts of a collective call and one peer has
 * closed meanwhile: three control blocks in one arena, rank 2's view of them.
 */
class ExchangeTest {
    private static final int RANKS = 3;

    private static ControlBlock[] blocks(Arena arena) {
        ControlBlock[] blocks = new ControlBlock[RANKS];
        for (int r = 0; r < RANKS; r++) {
            blocks[r] = new ControlBlock(arena.allocate(ControlBlock.bytes(RANKS), 8));
            blocks[r].init(r, RANKS, 1, 0);
            blocks[r].setState(ControlBlock.STATE_OPEN);
        }
        return blocks;
    }

    private static Exchange rank2(ControlBlock[] blocks) {
        Doorbell bell = new Doorbell(100_000L, 1_000_000L);
        Waits waits = new Waits(2, blocks, bell, 5_000_000_000L, () -> null, () -> false, () -> false, false);
        return new Exchange(2, blocks, null, new String[RANKS], bell, waits);
    }

    @Test
    void aMismatchPostedByAnotherPeerIsTheNewsWhenTheAwaitedPeerClosed() {
        try (Arena arena = Arena.ofConfined()) {
            ControlBlock[] blocks = blocks(arena);
            // Rank 1 made another call #1; rank 0 found that first and closed before rank 2 saw its post.
            blocks[1].post(1, "lowLatencyDispatch(fp8)");
            blocks[0].setState(ControlBlock.STATE_CLOSED);
            EpException e = assertThrows(EpException.class,
                    () -> rank2(blocks).awaitPosts("lowLatencyDispatch", 1, "lowLatencyDispatch(bf16)"));
            assertTrue(e.getMessage().startsWith("collective mismatch on rank 2: call #1 is lowLatencyDispatch(bf16)"
                    + " here but lowLatencyDispatch(fp8) on rank 1"), e.getMessage());
        }
    }

    @Test
    void aClosedPeerIsTheNewsWhenEveryPostSeenMatches() {
        try (Arena arena = Arena.ofConfined()) {
            ControlBlock[] blocks = blocks(arena);
            blocks[1].post(1, "lowLatencyDispatch(bf16)");
            blocks[0].setState(ControlBlock.STATE_CLOSED);
            EpException e = assertThrows(EpException.class,
                    () -> rank2(blocks).awaitPosts("lowLatencyDispatch", 1, "lowLatencyDispatch(bf16)"));
            assertTrue(e.getMessage().contains("peer 0 closed its buffer while this rank waited for it"), e.getMessage());
        }
    }
}
