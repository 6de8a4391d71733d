package ep4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.DType;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import ep4j.spi.Backends;
import java.lang.ref.WeakReference;
import org.junit.jupiter.api.Test;

class CpuGroupTest {
    @Test
    void theCpuBackendIsFoundByName() {
        assertTrue(Backends.all().stream().anyMatch(b -> b.name().equals("cpu") && b.priority() == 0));
        try (EpGroup g = EpGroup.cpu(3)) {
            assertEquals("cpu", g.backend());
            assertEquals(3, g.size());
            assertArrayEquals(new int[] {0, 1, 2}, g.localRanks());
        }
    }

    @Test
    void hostMemory() {
        try (EpGroup g = EpGroup.cpu(2); EpBuffers b = g.allocate(BufferSpec.normal(128, 4))) {
            assertEquals(Tensor.HOST, b.rank(1).device());
            assertEquals(2, b.all().size());
            Tensor z = g.allocate(1, DType.FLOAT32, 2, 3);
            assertTrue(z.isHost());
            assertArrayEquals(new float[6], z.toFloatArray());
            Tensor src = Tensor.ofInts(new int[] {1, 2, 3}, 3);
            Tensor up = g.upload(0, src);
            Tensor down = g.download(up);
            assertArrayEquals(new int[] {1, 2, 3}, down.toIntArray());
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> g.allocate(2, DType.BF16, 1));
            assertEquals("rank", e.argument());
            assertThrows(InvalidArgumentException.class, () -> b.rank(5));
        }
    }

    @Test
    void theCpuBackendHasNoKernelsToTime() {
        try (EpGroup g = EpGroup.cpu(1); EpBuffers b = g.allocate(BufferSpec.normal(128, 4))) {
            assertTrue(b.rank(0).kernelTiming().isEmpty());
        }
    }

    @Test
    void closedBuffersAreNotKeptByTheGroup() {
        try (CpuGroup g = (CpuGroup) EpGroup.cpu(4)) {
            for (int i = 0; i < 2000; i++) {
                g.allocate(BufferSpec.normal(128, 4)).close();
            }
            assertEquals(0, g.trackedBuffers());
            EpBuffers b = g.allocate(BufferSpec.normal(128, 4));
            assertEquals(1, g.trackedBuffers());
            for (int r = 0; r < 3; r++) {
                b.rank(r).close();
            }
            assertEquals(1, g.trackedBuffers(), "rank 3's buffer is still open");
            b.rank(3).close();
            assertEquals(0, g.trackedBuffers(), "closing every rank's buffer is closing them all");

            WeakReference<EpBuffers> closed = new WeakReference<>(g.allocate(BufferSpec.normal(128, 4)));
            closed.get().close();
            for (int i = 0; i < 50 && closed.get() != null; i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertNull(closed.get(), "closed buffers are garbage once the user drops them");
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void closingTheGroupClosesItsBuffers() {
        EpGroup g = EpGroup.cpu(2);
        EpBuffers b = g.allocate(BufferSpec.normal(128, 4));
        g.close();
        g.close();
        assertTrue(b.rank(0).isClosed() && b.rank(1).isClosed());
        assertThrows(IllegalStateException.class, () -> g.allocate(BufferSpec.normal(128, 4)));
    }
}
