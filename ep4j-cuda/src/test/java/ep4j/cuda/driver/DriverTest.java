package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Runs everywhere; the checks of an absent driver only where there is none (CI). */
class DriverTest {

    private static void assumeNoDriver() {
        Assumptions.assumeFalse(Driver.isAvailable(), "a CUDA driver is present here");
    }

    @Test
    void unavailableWithAReasonNamingLibcuda() {
        assumeNoDriver();
        String reason = Driver.unavailableReason();
        assertNotNull(reason);
        assertTrue(reason.contains("libcuda"), reason);
    }

    @Test
    void everythingThatNeedsTheDriverSaysWhyItIsMissing() {
        assumeNoDriver();
        String reason = Driver.unavailableReason();
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaContext.open(0));
        assertEquals(reason, e.getMessage());
        assertEquals(reason, assertThrows(CudaUnavailableException.class, Driver::deviceCount).getMessage());
        assertEquals(reason, assertThrows(CudaUnavailableException.class, () -> CudaDevice.get(0)).getMessage());
        assertEquals(reason,
                assertThrows(CudaUnavailableException.class, () -> DeviceMemory.deviceOrdinalOf(0x1000)).getMessage());
        // Still safe to ask again: no class is left half-initialised.
        assertFalse(Driver.isAvailable());
    }

    @Test
    void failuresNameTheCallAndTheError() {
        Driver.check(CudaConstants.CUDA_SUCCESS, "cuNothing");
        CudaException e = assertThrows(CudaException.class,
                () -> Driver.check(CudaConstants.CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc_v2(1073741824 bytes)"));
        assertEquals(CudaConstants.CUDA_ERROR_OUT_OF_MEMORY, e.result());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.errorName());
        assertTrue(e.getMessage().startsWith("cuMemAlloc_v2(1073741824 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY ("),
                e.getMessage());
        assertEquals("CUDA_ERROR_NOT_READY", Driver.errorName(CudaConstants.CUDA_ERROR_NOT_READY));
        assertTrue(Driver.errorName(987654).contains("987654"));
    }

    @Test
    void kernelArgsPackEachValueWhereItsPointerSays() {
        try (KernelArgs args = new KernelArgs(); Arena arena = Arena.ofConfined()) {
            MemorySegment struct = arena.allocate(24, 8);
            for (int i = 0; i < 3; i++) {
                struct.setAtIndex(JAVA_LONG, i, 0x1000L * (i + 1));
            }
            args.reset()
                    .ptr(0x7f00_1234_5678L)
                    .i32(-7)
                    .i64(1L << 40)
                    .f32(1.5f)
                    .i8((byte) 0x5a)
                    .f64(-2.25)
                    .i16((short) 300)
                    .bool(true)
                    .struct(struct, 8);
            assertEquals(9, args.count());
            assertEquals(0x7f00_1234_5678L, arg(args, 0, 8).get(JAVA_LONG, 0));
            assertEquals(-7, arg(args, 1, 4).get(JAVA_INT, 0));
            assertEquals(1L << 40, arg(args, 2, 8).get(JAVA_LONG, 0));
            assertEquals(1.5f, arg(args, 3, 4).get(JAVA_FLOAT, 0));
            assertEquals((byte) 0x5a, arg(args, 4, 1).get(JAVA_BYTE, 0));
            assertEquals(-2.25, arg(args, 5, 8).get(JAVA_DOUBLE, 0));
            assertEquals((short) 300, arg(args, 6, 2).get(JAVA_SHORT, 0));
            assertEquals((byte) 1, arg(args, 7, 1).get(JAVA_BYTE, 0));
            MemorySegment s = arg(args, 8, 24);
            for (int i = 0; i < 3; i++) {
                assertEquals(0x1000L * (i + 1), s.getAtIndex(JAVA_LONG, i));
            }
            long[] sizes = {8, 4, 8, 4, 1, 8, 2, 1, 24};
            for (int i = 0; i < sizes.length; i++) {
                assertEquals(sizes[i], args.size(i));
            }
            // Distinct, 8-byte aligned slots.
            for (int i = 0; i < args.count(); i++) {
                long a = args.kernelParams().getAtIndex(JAVA_LONG, i);
                assertEquals(0, a % 8, "argument " + i + " at " + a);
                if (i > 0) {
                    assertTrue(a >= args.kernelParams().getAtIndex(JAVA_LONG, i - 1) + args.size(i - 1));
                }
            }

            args.reset().i32(42).ptr(0xdeadbeefL);
            assertEquals(2, args.count());
            assertEquals(42, arg(args, 0, 4).get(JAVA_INT, 0));
            assertEquals(0xdeadbeefL, arg(args, 1, 8).get(JAVA_LONG, 0));
        }
    }

    @Test
    void kernelArgsCheckCountAndSizesAgainstTheKernel() {
        try (KernelArgs args = new KernelArgs()) {
            args.reset().ptr(1).i32(2);
            args.checkAgainst(new long[] {8, 4}, "k");
            assertThrows(InvalidArgumentException.class, () -> args.checkAgainst(new long[] {8}, "k"));
            InvalidArgumentException e =
                    assertThrows(InvalidArgumentException.class, () -> args.checkAgainst(new long[] {8, 8}, "k"));
            assertTrue(e.getMessage().contains("argument 1 of kernel k"), e.getMessage());
        }
    }

    @Test
    void kernelArgsRefuseOverflowAndUseAfterClose() {
        KernelArgs args = new KernelArgs(2, 64);
        args.i32(1).i32(2);
        assertThrows(IllegalStateException.class, () -> args.i32(3));
        args.reset();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment big = arena.allocate(72);
            assertThrows(IllegalStateException.class, () -> args.struct(big, 8));
        }
        args.close();
        args.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, args::reset);
        assertTrue(e.getMessage().contains("KernelArgs"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> args.ptr(1));
    }

    @Test
    void missingKernelResourceBlamesTheBuild() {
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> CudaModule.resource("ep4j/cuda/no-such-kernels.fatbin"));
        assertTrue(e.getMessage().contains("nvcc"), e.getMessage());
        assertTrue(e.getMessage().contains("no-such-kernels.fatbin"), e.getMessage());
    }

    @Test
    void ipcHandlesAreSixtyFourBytes() {
        byte[] b = new byte[IpcMemHandle.SIZE];
        b[3] = 9;
        IpcMemHandle h = IpcMemHandle.fromBytes(b);
        b[3] = 0;
        assertEquals(9, h.bytes()[3]);
        assertEquals(h, IpcMemHandle.fromBytes(h.bytes()));
        assertThrows(InvalidArgumentException.class, () -> IpcMemHandle.fromBytes(new byte[63]));
    }

    private static MemorySegment arg(KernelArgs args, int index, long size) {
        long address = args.kernelParams().getAtIndex(JAVA_LONG, index);
        return MemorySegment.ofAddress(address).reinterpret(size);
    }
}
