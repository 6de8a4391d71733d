package ep4j.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ep4j.EpException;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClosingTest {
    @Test
    void everyResourceIsClosedAndTheFirstFailureCarriesTheRest() {
        int[] closed = new int[1];
        AutoCloseable ok = () -> closed[0]++;
        AutoCloseable bad1 = () -> {
            throw new IllegalStateException("one");
        };
        AutoCloseable bad2 = () -> {
            throw new java.io.IOException("two");
        };
        RuntimeException first = Closing.closeAll(bad1, ok, null, bad2, ok);
        assertEquals("one", first.getMessage());
        assertEquals(1, first.getSuppressed().length);
        assertEquals("two", first.getSuppressed()[0].getMessage());
        assertEquals(2, closed[0], "every resource is closed, failures or not");
        assertNull(Closing.closeAll(ok));
        assertEquals(3, closed[0]);
    }

    @Test
    void aCheckedFailureIsWrappedAndCleanupAddsToThePendingFailure() {
        AutoCloseable checked = () -> {
            throw new java.io.IOException("disk");
        };
        RuntimeException e = assertThrows(EpException.class, () -> Closing.closeAllOrThrow(List.of(checked)));
        assertEquals("disk", e.getCause().getMessage());
        RuntimeException pending = new RuntimeException("creation failed");
        Closing.closeAllInto(pending, () -> {
            throw new IllegalStateException("undo");
        });
        assertEquals(1, pending.getSuppressed().length);
        assertEquals("undo", pending.getSuppressed()[0].getMessage());
        RuntimeException none = new RuntimeException("x");
        Closing.closeAllInto(none, (AutoCloseable) null);
        assertEquals(0, none.getSuppressed().length);
        assertSame(null, Closing.closeAll(List.of()));
    }
}
