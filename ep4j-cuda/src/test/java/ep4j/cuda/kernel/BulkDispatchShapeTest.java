package ep4j.cuda.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BulkDispatchShapeTest {
    @Test
    void aBf16RowOfHidden7168GetsTwoWarpsOfSevenSlots() {
        BulkDispatchShape s = BulkDispatchShape.forRow(7168 * 2, 0, 4096, 16);
        assertShape(2, 7, s);
        assertEquals(2 * 7 * 14336, s.sharedBytes());
        assertEquals(64, s.threads());
    }

    @Test
    void anFp8RowOfHidden7168GetsEightWarpsOfThreeSlots() {
        assertShape(8, 3, BulkDispatchShape.forRow(7168, 224, 4096, 16));
    }

    @Test
    void largeRowsTakeMoreWarpsWhenEachWouldWalkTooManyTokens() {
        // bf16 hidden 7168: 4096 tokens on 16 blocks are 128 per warp of 2; on 8 blocks, 4 warps.
        assertEquals(2, BulkDispatchShape.forRow(7168 * 2, 0, 4096, 16).warps());
        assertEquals(4, BulkDispatchShape.forRow(7168 * 2, 0, 4096, 8).warps());
        // 8 warps of 14 KiB rows fit no two slots in the budget: back to 4.
        assertEquals(4, BulkDispatchShape.forRow(7168 * 2, 0, 4096, 2).warps());
        assertEquals(2, BulkDispatchShape.forRow(7168 * 2, 0, 0, 16).warps());
    }

    @Test
    void warpsHalveUntilTwoSlotsFit() {
        // 64 KiB fp8 rows (hidden 65536, 2 KiB of scales): 2 warps x 2 slots would need 264 KiB.
        assertShape(1, 3, BulkDispatchShape.forRow(65536, 2048, 4096, 16));
    }

    private static void assertShape(int warps, int stages, BulkDispatchShape s) {
        assertEquals(warps, s.warps(), s.toString());
        assertEquals(stages, s.stages(), s.toString());
    }

    @Test
    void wholeSixteenByteScaleRowsTravelInTheSlot() {
        // fp8 hidden 7168: 7168 bytes of x plus 56 float scales (224 bytes), each rounded up to 128.
        BulkDispatchShape s = BulkDispatchShape.forRow(7168, 224, 4096, 16);
        assertEquals(s.warps() * s.stages() * (7168 + 256), s.sharedBytes());
        // 4 scales (16 bytes) travel too; 3 scales (12 bytes) are copied by the lanes, outside the slot.
        BulkDispatchShape withScales = BulkDispatchShape.forRow(1024, 16, 4096, 16);
        assertEquals(withScales.warps() * withScales.stages() * (1024 + 128), withScales.sharedBytes());
        assertEquals(BulkDispatchShape.forRow(1024, 0, 4096, 16), BulkDispatchShape.forRow(1024, 12, 4096, 16));
    }

    @Test
    void everyShapeFitsTheBudgetWithAtLeastTwoSlots() {
        for (int row = 16; row <= 128 * 1024; row += 16 * 37) {
            BulkDispatchShape s = BulkDispatchShape.forRow(row, 0, 4096, 16);
            if (s == null) {
                assertTrue(2L * ((row + 127) / 128 * 128) > BulkDispatchShape.SHARED_BUDGET, "row " + row);
                continue;
            }
            assertTrue(s.stages() >= 2 && s.stages() <= BulkDispatchShape.MAX_STAGES, s.toString());
            assertTrue(s.warps() >= 1 && s.warps() <= BulkDispatchShape.MAX_WARPS, s.toString());
            assertTrue(s.sharedBytes() <= BulkDispatchShape.SHARED_BUDGET, s.toString());
        }
    }

    @Test
    void rowsTooLargeForTwoSlotsFallBackToThePlainKernel() {
        assertNull(BulkDispatchShape.forRow(BulkDispatchShape.SHARED_BUDGET, 0, 4096, 16));
        assertEquals(1, BulkDispatchShape.forRow(BulkDispatchShape.SHARED_BUDGET / 2 - 128, 0, 4096, 16).warps());
    }
}
