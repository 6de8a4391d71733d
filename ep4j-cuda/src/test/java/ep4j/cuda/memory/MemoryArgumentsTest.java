package ep4j.cuda.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.InvalidArgumentException;
import ep4j.cuda.driver.CudaContext;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Argument checks of the memory classes, which come before any driver call; no GPU needed. */
class MemoryArgumentsTest {

    @Test
    void symmetricMemoryNamesTheBadArgument() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> SymmetricMemory.allocate(null, 0, List.of()));
        assertEquals("bytes", e.argument());
        assertEquals("0", e.value());
        assertTrue(e.getMessage().startsWith("bytes = 0: expected a positive size"), e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> SymmetricMemory.importFd(null, -1, 1 << 21));
        assertEquals("fd", e.argument());
        assertTrue(e.getMessage().contains("exportFd()"), e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> SymmetricMemory.importFd(null, 5, -3));
        assertEquals("bytes", e.argument());
        assertTrue(e.getMessage().contains("exporter's byteSize()"), e.getMessage());
    }

    @Test
    void symmetricHeapNamesTheBadArgument() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> SymmetricHeap.allocate(List.of(), -1));
        assertEquals("bytes", e.argument());
        e = assertThrows(InvalidArgumentException.class, () -> SymmetricHeap.allocate(List.of(), 4096));
        assertEquals("contexts", e.argument());
        assertEquals("[]", e.value());
        assertTrue(e.getMessage().contains("one context per rank"), e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> SymmetricHeap.allocate(null, 4096));
        assertEquals("contexts", e.argument());
        List<CudaContext> withNull = Arrays.asList((CudaContext) null);
        e = assertThrows(InvalidArgumentException.class, () -> SymmetricHeap.allocate(withNull, 4096));
        assertEquals("contexts[0]", e.argument());
        assertTrue(e.getMessage().contains("an open context"), e.getMessage());
    }
}
