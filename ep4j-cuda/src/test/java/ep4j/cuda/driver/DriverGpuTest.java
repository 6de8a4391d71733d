package ep4j.cuda.driver;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.InvalidArgumentException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Needs a CUDA GPU: {@code mvn -Pgpu test}. Skipped where the driver is unavailable. */
@Tag("gpu")
class DriverGpuTest {
    private static final int MIB = 1 << 20;

    @BeforeAll
    static void needsAGpu() {
        ep4j.cuda.GpuRequired.driver();
    }

    /** Bytes 0, 1, ..., with a seed so two buffers differ. */
    private static MemorySegment pattern(Arena arena, long n, int seed) {
        MemorySegment s = arena.allocate(n, 16);
        for (long i = 0; i < n; i++) {
            s.set(JAVA_BYTE, i, (byte) (i * 31 + seed));
        }
        return s;
    }

    private static void assertSameBytes(MemorySegment expected, MemorySegment actual) {
        assertEquals(expected.byteSize(), actual.byteSize());
        long at = expected.mismatch(actual);
        assertEquals(-1, at, "first difference at byte " + at);
    }

    @Test
    void driverAndDevice() {
        assertNull(Driver.unavailableReason());
        assertTrue(Driver.deviceCount() >= 1);
        assertTrue(Driver.driverVersion() >= 12000, "driver " + Driver.driverVersion());
        CudaDevice d = CudaDevice.get(0);
        assertFalse(d.name().isBlank());
        assertTrue(d.multiprocessorCount() > 0);
        assertTrue(d.totalMemory() > 0);
        assertTrue(d.computeCapability() >= 50);
        assertTrue(d.canAccessPeer(d));
        assertThrows(InvalidArgumentException.class, () -> CudaDevice.get(Driver.deviceCount()));
        try (CudaContext ctx = CudaContext.open(0)) {
            MemoryInfo m = ctx.memoryInfo();
            assertTrue(m.freeBytes() > 0 && m.freeBytes() <= m.totalBytes(), m.toString());
            ctx.makeCurrent();
            ctx.synchronize();
        }
    }

    @Test
    void hostToDeviceToHost() {
        try (CudaContext ctx = CudaContext.open(0);
                DeviceMemory mem = DeviceMemory.allocate(ctx, 4 * MIB);
                Arena arena = Arena.ofConfined()) {
            MemorySegment src = pattern(arena, 4 * MIB, 1);
            MemorySegment back = arena.allocate(4 * MIB);
            mem.upload(src, 0);
            mem.download(0, back);
            assertSameBytes(src, back);

            // Offsets, and heap segments (staged).
            byte[] heap = new byte[1000];
            MemorySegment heapSeg = MemorySegment.ofArray(heap);
            mem.download(12345, heapSeg);
            assertSameBytes(src.asSlice(12345, 1000), heapSeg);
            assertThrows(InvalidArgumentException.class, () -> mem.download(4 * MIB - 10, arena.allocate(11)));

            // Raw-pointer copies find the owning context themselves.
            MemorySegment small = pattern(arena, 256, 7);
            DeviceMemory.copyFromHost(small, mem.address() + 512);
            MemorySegment smallBack = arena.allocate(256);
            DeviceMemory.copyToHost(mem.address() + 512, smallBack);
            assertSameBytes(small, smallBack);
            assertEquals(0, DeviceMemory.deviceOrdinalOf(mem.address()).getAsInt());
            assertTrue(DeviceMemory.deviceOrdinalOf(back.address()).isEmpty());

            mem.fill((byte) 0x7e);
            mem.download(0, back);
            for (long i = 0; i < back.byteSize(); i += 4097) {
                assertEquals((byte) 0x7e, back.get(JAVA_BYTE, i));
            }
        }
    }

    @Test
    void asyncCopiesPinnedMemoryAndFills() {
        long n = 1 * MIB;
        try (CudaContext ctx = CudaContext.open(0);
                CudaStream stream = CudaStream.create(ctx);
                DeviceMemory a = DeviceMemory.allocate(ctx, n);
                DeviceMemory b = DeviceMemory.allocate(ctx, n);
                PinnedHostMemory pinned = PinnedHostMemory.allocate(ctx, n);
                Arena arena = Arena.ofConfined()) {
            MemorySegment src = pattern(arena, n, 3);
            pinned.segment().copyFrom(src);
            a.uploadAsync(pinned.segment(), 0, stream);
            DeviceMemory.copy(b.address(), a.address(), n, stream);
            stream.synchronize(); // the upload reads the pinned memory until then
            pinned.segment().fill((byte) 0);
            b.downloadAsync(0, pinned.segment(), stream);
            stream.synchronize();
            assertTrue(stream.isIdle());
            assertSameBytes(src, pinned.segment());

            // A kernel-side write into mapped pinned memory: the DMA engine writing its device pointer.
            pinned.segment().fill((byte) 0);
            DeviceMemory.copy(pinned.devicePointer(), a.address(), 64, stream);
            stream.synchronize();
            assertSameBytes(src.asSlice(0, 64), pinned.segment().asSlice(0, 64));
            assertEquals(src.get(JAVA_INT, 0), pinned.getIntVolatile(0));

            DeviceMemory.fillInt32Async(a.address(), 0x01020304, n / 4, stream);
            DeviceMemory.zeroAsync(a.address() + 1, 3, stream);
            a.downloadAsync(0, pinned.segment(), stream);
            stream.synchronize();
            assertEquals(0x04, pinned.segment().get(JAVA_BYTE, 0));
            assertEquals(0, pinned.segment().get(JAVA_BYTE, 1));
            assertEquals(0, pinned.segment().get(JAVA_BYTE, 3));
            assertEquals(0x01020304, pinned.segment().get(JAVA_INT, 4));

            a.fillAsync((byte) 9, stream);
            a.downloadAsync(0, pinned.segment(), stream);
            stream.synchronize();
            assertEquals(9, pinned.segment().get(JAVA_BYTE, n - 1));

            assertThrows(InvalidArgumentException.class,
                    () -> a.downloadAsync(0, MemorySegment.ofArray(new byte[8]), stream));
        }
    }

    @Test
    void eventsOrderAndTime() {
        try (CudaContext ctx = CudaContext.open(0);
                CudaStream s1 = CudaStream.create(ctx);
                CudaStream s2 = CudaStream.create(ctx);
                CudaEvent start = CudaEvent.create(ctx, true);
                CudaEvent end = CudaEvent.create(ctx, true);
                CudaEvent sync = CudaEvent.create(ctx, false);
                DeviceMemory mem = DeviceMemory.allocate(ctx, 64 * MIB)) {
            start.record(s1);
            mem.fillAsync((byte) 1, s1);
            end.record(s1);
            sync.record(s1);
            s2.waitEvent(sync);
            s2.synchronize();
            assertTrue(sync.isComplete());
            end.synchronize();
            assertTrue(end.isComplete());
            float ms = CudaEvent.elapsedMillis(start, end);
            assertTrue(ms >= 0 && ms < 10_000, "elapsed " + ms);
            assertThrows(CudaException.class, () -> CudaEvent.elapsedMillis(sync, sync));
        }
    }

    @Test
    void loadTheKernelsAndLaunchNoop() {
        try (CudaContext ctx = CudaContext.open(0);
                CudaStream stream = CudaStream.create(ctx);
                CudaModule module = CudaModule.loadResource(ctx, CudaModule.KERNELS_RESOURCE);
                KernelArgs args = new KernelArgs()) {
            CudaFunction noop = module.function("ep4j_noop");
            assertSame(noop, module.function("ep4j_noop"));
            assertTrue(noop.parameterCount() == 0 || noop.parameterCount() == -1, "" + noop.parameterCount());
            noop.launch(1, 1, 32, 0, stream, args.reset());
            noop.launch(ctx.device().multiprocessorCount(), 1, 1, 1, 128, 1, 0, stream, args.reset());
            stream.synchronize();
            if (noop.parameterCount() == 0) {
                assertThrows(InvalidArgumentException.class, () -> noop.launch(1, 1, 32, 0, stream, args.reset().i32(1)));
            }
            assertThrows(InvalidArgumentException.class, () -> noop.launch(0, 1, 32, 0, stream, args.reset()));
            CudaException missing = assertThrows(CudaException.class, () -> module.function("no_such_kernel"));
            assertTrue(missing.getMessage().contains("cuModuleGetFunction"), missing.getMessage());
            assertTrue(noop.attribute(CudaConstants.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK) > 0);
            noop.setMaxDynamicSharedMemory(64 * 1024);
            noop.launch(1, 1, 32, 64 * 1024, stream, args.reset());
            stream.synchronize();

            // Launch cost, for the record (no assertion: machines differ).
            int n = 20_000;
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                noop.launch(1, 1, 32, 0, stream, args.reset());
            }
            long t1 = System.nanoTime();
            stream.synchronize();
            System.out.printf("DriverGpuTest: %s, reset+launch %.2f us per launch (%d launches)%n",
                    ctx.device().name(), (t1 - t0) / 1e3 / n, n);
        }
    }

    @Test
    void graphCaptureAndReplay() {
        try (CudaContext ctx = CudaContext.open(0);
                CudaStream stream = CudaStream.create(ctx);
                CudaModule module = CudaModule.loadResource(ctx, CudaModule.KERNELS_RESOURCE);
                DeviceMemory mem = DeviceMemory.allocate(ctx, 4096);
                KernelArgs args = new KernelArgs();
                Arena arena = Arena.ofConfined()) {
            CudaFunction noop = module.function("ep4j_noop");
            mem.fill((byte) 0);
            try (CudaGraph graph = CudaGraph.capture(stream, () -> {
                noop.launch(1, 1, 32, 0, stream, args.reset());
                DeviceMemory.fillAsync(mem.address(), (byte) 5, 4096, stream);
            })) {
                MemorySegment back = arena.allocate(4096);
                mem.download(0, back);
                assertEquals(0, back.get(JAVA_BYTE, 0), "captured work must not run at capture");
                graph.launch(stream);
                graph.launch(stream);
                stream.synchronize();
                mem.download(0, back);
                assertEquals(5, back.get(JAVA_BYTE, 4095));
                graph.close();
                assertThrows(IllegalStateException.class, () -> graph.launch(stream));
            }
            // A failing capture leaves the stream usable.
            assertThrows(IllegalArgumentException.class, () -> CudaGraph.capture(stream, () -> {
                throw new IllegalArgumentException("boom");
            }));
            noop.launch(1, 1, 32, 0, stream, args.reset());
            stream.synchronize();
        }
    }

    @Test
    void badCallsBecomeCudaExceptions() {
        try (CudaContext ctx = CudaContext.open(0)) {
            long pib = 1L << 50;
            CudaException e = assertThrows(CudaException.class, () -> DeviceMemory.allocate(ctx, pib));
            assertEquals(CudaConstants.CUDA_ERROR_OUT_OF_MEMORY, e.result());
            assertTrue(e.getMessage().contains("cuMemAlloc_v2(" + pib + " bytes)"), e.getMessage());
            assertTrue(e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
            // The error is not sticky: the context still works.
            try (DeviceMemory ok = DeviceMemory.allocate(ctx, 1024)) {
                ok.fill((byte) 1);
            }
            CudaException bad = assertThrows(CudaException.class,
                    () -> CudaModule.load(ctx, "this is no fatbin".getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
            assertTrue(bad.getMessage().startsWith("cuModuleLoadData("), bad.getMessage());
        }
    }

    @Test
    void closingIsIdempotentAndUseAfterCloseIsRefused() {
        CudaContext ctx = CudaContext.open(0);
        DeviceMemory mem = DeviceMemory.allocate(ctx, 1024);
        CudaStream stream = CudaStream.create(ctx);
        CudaEvent event = CudaEvent.create(ctx, false);
        PinnedHostMemory pinned = PinnedHostMemory.allocate(ctx, 4096);
        MemorySegment view = pinned.segment();
        // Closing the context first only ends the handle: its resources still work and free cleanly.
        ctx.close();
        ctx.close();
        assertThrows(IllegalStateException.class, ctx::makeCurrent);
        assertThrows(IllegalStateException.class, () -> DeviceMemory.allocate(ctx, 16));
        mem.fillAsync((byte) 3, stream);
        event.record(stream);
        event.synchronize();
        mem.close();
        mem.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, mem::address);
        assertTrue(e.getMessage().contains("DeviceMemory"), e.getMessage());
        stream.close();
        stream.close();
        assertThrows(IllegalStateException.class, stream::synchronize);
        event.close();
        assertThrows(IllegalStateException.class, event::isComplete);
        pinned.close();
        pinned.close();
        assertThrows(IllegalStateException.class, () -> view.get(JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, pinned::segment);
    }

    @Test
    void ipcHandleOfAnAllocation() {
        try (CudaContext ctx = CudaContext.open(0); DeviceMemory mem = DeviceMemory.allocate(ctx, 2 * MIB)) {
            IpcMemHandle h = IpcMemHandle.of(mem);
            assertEquals(64, h.bytes().length);
            assertNotEquals(IpcMemHandle.fromBytes(new byte[64]), h);
        }
    }

    @Test
    void peerCopyBetweenTwoGpus() {
        ep4j.cuda.GpuRequired.gpus(2);
        long n = 8 * MIB;
        try (CudaContext c0 = CudaContext.open(0);
                CudaContext c1 = CudaContext.open(1);
                CudaStream s0 = CudaStream.create(c0);
                DeviceMemory src = DeviceMemory.allocate(c0, n);
                DeviceMemory dst = DeviceMemory.allocate(c1, n);
                Arena arena = Arena.ofConfined()) {
            boolean p2p = c0.device().canAccessPeer(c1.device()) && c1.device().canAccessPeer(c0.device());
            if (p2p) {
                c0.enablePeerAccess(c1);
                c1.enablePeerAccess(c0);
                c0.enablePeerAccess(c1); // idempotent
            }
            MemorySegment data = pattern(arena, n, 11);
            src.upload(data, 0);
            dst.fill((byte) 0);
            DeviceMemory.copy(dst.address(), src.address(), n, s0);
            s0.synchronize();
            MemorySegment back = arena.allocate(n);
            dst.download(0, back);
            assertSameBytes(data, back);
            assertEquals(1, DeviceMemory.deviceOrdinalOf(dst.address()).getAsInt());
            System.out.println("DriverGpuTest: peer access 0<->1 " + (p2p ? "enabled" : "unsupported (staged copy)"));
        }
    }
}
