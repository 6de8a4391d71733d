package ep4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class TensorTest {
    /** 2^62 bytes: more than any machine's address space, so no allocator can give it. */
    private static final long HUGE_ROWS = 1L << 59;

    @Test
    void ofBf16RoundsToNearestEven() {
        float half = 0x1p-8f; // half a bf16 ulp at 1.0
        Tensor t = Tensor.ofBf16(new float[] {1f, 1f + half, 1f + 3 * half, -2.5f, Float.NaN, 3.0e38f * 10}, 2, 3);
        assertEquals(DType.BF16, t.dtype());
        assertArrayEquals(new long[] {2, 3}, t.shape());
        // 1 + half an ulp ties to the even 1.0; 1 + 1.5 ulp ties to the even 1 + 2 ulp.
        assertArrayEquals(new short[] {0x3F80, 0x3F80, 0x3F82, (short) 0xC020, 0x7FFF, 0x7F80}, t.toShortArray());
    }

    @Test
    void ofBf16NamesACountThatDoesNotFitTheShape() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> Tensor.ofBf16(new float[5], 2, 3));
        assertEquals("values.length", e.argument());
        assertEquals("5", e.value());
        assertTrue(e.expected().contains("6 values"), e.getMessage());
    }

    @Test
    void hostMemoryNoMachineHasIsAnAllocationExceptionNamingIt() {
        AllocationException gc = assertThrows(AllocationException.class,
                () -> Tensor.allocateHost(DType.INT64, HUGE_ROWS));
        assertEquals(HUGE_ROWS * 8, gc.bytes());
        assertEquals(Tensor.HOST, gc.device());
        assertTrue(gc.getMessage().contains("host memory") && gc.getMessage().contains("INT64[" + HUGE_ROWS + "]")
                && gc.getMessage().contains("4.0 EiB"), gc.getMessage());
        assertInstanceOf(OutOfMemoryError.class, gc.getCause());
        try (Arena arena = Arena.ofConfined()) {
            AllocationException own = assertThrows(AllocationException.class,
                    () -> Tensor.allocateHost(arena, DType.INT64, HUGE_ROWS));
            assertEquals(HUGE_ROWS * 8, own.bytes());
        }
    }

    @Test
    void aShapeBeyondALongIsRejected() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> Tensor.allocateHost(DType.BF16, 1L << 40, 1L << 40));
        assertEquals("shape", e.argument());
    }

    @Test
    void closingAGcManagedTensorEndsItsUse() {
        Tensor t = Tensor.ofLongs(new long[] {1, 2, 3}, 3);
        assertArrayEquals(new long[] {1, 2, 3}, t.toLongArray());
        t.close();
        t.close();
        assertTrue(t.isClosed());
        assertThrows(IllegalStateException.class, t::segment);
        assertThrows(IllegalStateException.class, t::toLongArray);
    }

    @Test
    void anArenaTensorIsFreedWithItsArenaNotByClose() {
        MemorySegment seg;
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocateHost(arena, DType.FLOAT32, 4);
            seg = t.segment();
            t.close();
            assertThrows(IllegalStateException.class, t::segment);
            seg.set(ValueLayout.JAVA_FLOAT, 0, 1f); // still the arena's memory
            assertEquals(1f, seg.get(ValueLayout.JAVA_FLOAT, 0));
        }
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_FLOAT, 0), "freed with the arena");
    }

    @Test
    void aViewNeverFreesTheCallersMemory() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(16);
            Tensor t = Tensor.ofHost(seg, DType.INT32, 4);
            t.close();
            seg.set(ValueLayout.JAVA_INT, 0, 7);
            assertEquals(7, seg.get(ValueLayout.JAVA_INT, 0));
        }
    }
}
