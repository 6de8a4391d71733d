package ep4j.cuda.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.InvalidArgumentException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Granularity arithmetic and argument checks of the virtual memory wrappers; no GPU needed. */
class VirtualMemoryTest {
    private static final long MIB2 = 2L << 20;

    @Test
    void sizesRoundUpToTheUnit() {
        assertEquals(MIB2, VirtualMemory.roundUp(1, MIB2));
        assertEquals(MIB2, VirtualMemory.roundUp(MIB2, MIB2));
        assertEquals(2 * MIB2, VirtualMemory.roundUp(MIB2 + 1, MIB2));
        assertEquals(3 * 4096, VirtualMemory.roundUp(2 * 4096 + 5, 4096));
        assertEquals(7, VirtualMemory.roundUp(7, 1));
        // A unit that is no power of two still rounds to a multiple.
        assertEquals(12, VirtualMemory.roundUp(10, 6));
        long largest = Long.MAX_VALUE / MIB2 * MIB2;
        assertEquals(largest, VirtualMemory.roundUp(largest - 5, MIB2));
    }

    @Test
    void theUnitIsAMultipleOfBothGranularities() {
        assertEquals(MIB2, VirtualMemory.unit(MIB2, MIB2));
        assertEquals(MIB2, VirtualMemory.unit(64 << 10, MIB2));
        assertEquals(MIB2, VirtualMemory.unit(MIB2, 64 << 10)); // a "recommended" below the minimum
        assertEquals(12, VirtualMemory.unit(4, 6));
        for (long[] g : List.of(new long[] {4096, MIB2}, new long[] {6, 10}, new long[] {1, 1})) {
            long u = VirtualMemory.unit(g[0], g[1]);
            assertTrue(u % g[0] == 0 && u % g[1] == 0, u + " for " + g[0] + ", " + g[1]);
        }
    }

    @Test
    void badSizesAndUnitsNameTheArgument() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> VirtualMemory.roundUp(0, MIB2));
        assertEquals("bytes", e.argument());
        assertEquals("0", e.value());
        assertTrue(e.getMessage().contains("positive allocation size"), e.getMessage());
        assertEquals("bytes", assertThrows(InvalidArgumentException.class,
                () -> VirtualMemory.roundUp(-5, MIB2)).argument());
        e = assertThrows(InvalidArgumentException.class, () -> VirtualMemory.roundUp(Long.MAX_VALUE - 1, MIB2));
        assertEquals("bytes", e.argument());
        assertTrue(e.getMessage().contains("multiple of " + MIB2), e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> VirtualMemory.roundUp(100, 0));
        assertEquals("unit", e.argument());
        assertEquals("minimum", assertThrows(InvalidArgumentException.class,
                () -> VirtualMemory.unit(0, MIB2)).argument());
        assertEquals("recommended", assertThrows(InvalidArgumentException.class,
                () -> VirtualMemory.unit(MIB2, -1)).argument());
    }

    @Test
    void wrappersCheckArgumentsBeforeTheDriver() {
        // Checked before any context or driver call, so they hold on a machine without a GPU.
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> PhysicalMemory.create(null, 0, CudaConstants.CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR));
        assertEquals("bytes", e.argument());
        e = assertThrows(InvalidArgumentException.class, () -> PhysicalMemory.importFd(null, -1, MIB2));
        assertEquals("fd", e.argument());
        assertEquals("-1", e.value());
        assertEquals("bytes", assertThrows(InvalidArgumentException.class,
                () -> PhysicalMemory.importFd(null, 3, 0)).argument());
        assertEquals("bytes", assertThrows(InvalidArgumentException.class,
                () -> AddressRange.reserve(null, -1, 0)).argument());
        e = assertThrows(InvalidArgumentException.class, () -> AddressRange.reserve(null, MIB2, 3 << 20));
        assertEquals("alignment", e.argument());
        assertTrue(e.getMessage().contains("power of two"), e.getMessage());
    }

    @Test
    void withoutADriverTheGranularityQuerySaysWhy() {
        org.junit.jupiter.api.Assumptions.assumeFalse(Driver.isAvailable(), "a CUDA driver is present here");
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> VirtualMemory.granularity(null, 0, true));
        assertEquals(Driver.unavailableReason(), e.getMessage());
    }
}
