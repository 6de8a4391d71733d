package ep4j.cuda.memory;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cuda.GpuRequired;
import ep4j.cuda.driver.CudaConstants;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaDevice;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.Driver;
import ep4j.cuda.driver.DriverCalls;
import ep4j.cuda.driver.VirtualMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Symmetric memory on real GPUs: {@code mvn -Pgpu test -pl ep4j-cuda -am
 * -Dtest=SymmetricMemoryGpuTest}. Runs on one GPU or more; the checks that need two GPUs (peer
 * copies across devices, an access not granted) skip on one.
 */
@Tag("gpu")
class SymmetricMemoryGpuTest {
    private static final long MIB = 1L << 20;
    private static final int READWRITE = CudaConstants.CU_MEM_ACCESS_FLAGS_PROT_READWRITE;

    @BeforeAll
    static void needsAGpu() {
        GpuRequired.driver();
    }

    private static int gpus() {
        return Math.min(2, Driver.deviceCount());
    }

    private static MemorySegment pattern(Arena arena, long n, int seed) {
        MemorySegment s = arena.allocate(n, 16);
        for (long i = 0; i < n; i++) {
            s.set(JAVA_BYTE, i, (byte) (i * 131 + seed));
        }
        return s;
    }

    /** Host to device on a stream of {@code ctx} (the memory's own device or one granted access). */
    private static void upload(CudaContext ctx, MemorySegment src, long ptr) {
        try (CudaStream s = CudaStream.create(ctx)) {
            DeviceMemory.copyFromHostAsync(src, ptr, s);
            s.synchronize();
        }
    }

    private static MemorySegment download(CudaContext ctx, Arena arena, long ptr, long n) {
        MemorySegment dst = arena.allocate(n, 16);
        try (CudaStream s = CudaStream.create(ctx)) {
            DeviceMemory.copyToHostAsync(ptr, dst, s);
            s.synchronize();
        }
        return dst;
    }

    private static void assertSameBytes(MemorySegment expected, MemorySegment actual, String what) {
        long at = expected.mismatch(actual);
        assertEquals(-1, at, what + ": first difference at byte " + at);
    }

    private static void assertAllZero(MemorySegment s, String what) {
        for (long i = 0; i < s.byteSize(); i += 4) {
            if (s.get(JAVA_INT, i) != 0) {
                throw new AssertionError(what + " is not zero-filled: word at byte " + i + " = " + s.get(JAVA_INT, i));
            }
        }
    }

    private static long count(Map<String, Long> calls, String symbol) {
        return calls.getOrDefault(symbol, 0L);
    }

    @Test
    void heapOfTwoRanksCopiesBetweenRanksThroughTheMappingsOnly() {
        int gpus = gpus();
        try (CudaContext c0 = CudaContext.open(0); CudaContext c1 = CudaContext.open(gpus - 1); Arena arena = Arena.ofConfined()) {
            long requested = 3 * MIB + 123;
            Map<String, Long> before = DriverCalls.snapshot();
            SymmetricHeap heap = SymmetricHeap.allocate(List.of(c0, c1), requested);
            Map<String, Long> calls = DriverCalls.since(before);
            try {
                // Only this memory is shared: no context-wide peer access, no cuMemAlloc.
                assertEquals(0, count(calls, "cuCtxEnablePeerAccess"), "calls while creating the heap: " + calls);
                assertEquals(0, count(calls, "cuMemAlloc_v2"), calls.toString());
                assertEquals(2, count(calls, "cuMemCreate"), calls.toString());
                assertEquals(2, count(calls, "cuMemMap"), calls.toString());
                assertEquals(2, count(calls, "cuMemSetAccess"), calls.toString());

                assertEquals(2, heap.ranks());
                long unit = VirtualMemory.allocationUnit(c0, CudaConstants.CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
                long size = heap.byteSize();
                assertTrue(size >= requested && size % unit == 0 && size - requested < unit,
                        size + " bytes for " + requested + " requested, unit " + unit);
                long[] bases = heap.bases();
                assertNotEquals(0, bases[0]);
                assertNotEquals(bases[0], bases[1]);
                assertEquals(bases[1], heap.base(1));
                assertEquals(size, heap.memory(1).byteSize());

                Set<CudaDevice> group = new HashSet<>(List.of(c0.device(), c1.device())); // one device on one GPU
                for (int r = 0; r < 2; r++) {
                    SymmetricMemory m = heap.memory(r);
                    assertEquals(group, m.accessibleFrom(), m.toString());
                    for (CudaDevice d : group) {
                        assertEquals(READWRITE, m.accessFlags(d), "device " + d.ordinal() + " on " + m);
                    }
                    assertAllZero(download(r == 0 ? c0 : c1, arena, bases[r], size), "rank " + r + "'s memory");
                }

                // Rank 0 -> rank 1, copied in rank 1's context (device 1 reads device 0's memory).
                MemorySegment src = pattern(arena, size, 5);
                upload(c0, src, bases[0]);
                DeviceMemory.copy(c1, bases[1], bases[0], size);
                assertSameBytes(src, download(c1, arena, bases[1], size), "rank 1 after a copy from rank 0");
                // Rank 1 -> rank 0 at other offsets, in rank 0's context (device 0 reads device 1's memory).
                MemorySegment src2 = pattern(arena, MIB, 77);
                upload(c1, src2, bases[1] + 4096);
                DeviceMemory.copy(c0, bases[0] + 3 * 4096, bases[1] + 4096, MIB);
                assertSameBytes(src2, download(c0, arena, bases[0] + 3 * 4096, MIB), "rank 0 after a copy from rank 1");
                // A copy issued by device 0 that writes into rank 1's memory.
                DeviceMemory.copy(c0, bases[1], bases[0] + 3 * 4096, MIB);
                assertSameBytes(src2, download(c1, arena, bases[1], MIB), "rank 1 written from device 0");
            } finally {
                heap.close();
            }
            assertTrue(heap.isClosed());
            heap.close(); // harmless
            assertThrows(IllegalStateException.class, () -> heap.base(0));
            assertThrows(IllegalStateException.class, heap::bases);
        }
    }

    @Test
    void memoryIsSharedOnlyWithTheDevicesGranted() {
        Assumptions.assumeTrue(Driver.deviceCount() >= 2, "needs 2 GPUs to check an access not granted");
        try (CudaContext c0 = CudaContext.open(0); CudaContext c1 = CudaContext.open(1);
                SymmetricMemory own = SymmetricMemory.allocate(c1, MIB, List.of());
                SymmetricMemory shared = SymmetricMemory.allocate(c1, MIB, List.of(c0.device(), c1.device(), c0.device()))) {
            assertEquals(Set.of(c1.device()), own.accessibleFrom());
            assertEquals(READWRITE, own.accessFlags(c1.device()));
            assertEquals(CudaConstants.CU_MEM_ACCESS_FLAGS_PROT_NONE, own.accessFlags(c0.device()),
                    "device 0 was not granted access to " + own);
            assertEquals(Set.of(c1.device(), c0.device()), shared.accessibleFrom()); // owner first, each once
            assertEquals(READWRITE, shared.accessFlags(c0.device()));
        }
    }

    @Test
    void fourRanksOnSharedGpusGrantEachDeviceOnce() {
        int gpus = gpus();
        List<CudaContext> contexts = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            for (int r = 0; r < 4; r++) {
                contexts.add(CudaContext.open(r % gpus));
            }
            Map<String, Long> before = DriverCalls.snapshot();
            try (SymmetricHeap heap = SymmetricHeap.allocate(contexts, 1)) {
                assertEquals(4, count(DriverCalls.since(before), "cuMemSetAccess"));
                Set<CudaDevice> group = new HashSet<>();
                contexts.forEach(c -> group.add(c.device()));
                for (int r = 0; r < 4; r++) {
                    assertEquals(group, heap.memory(r).accessibleFrom());
                    assertEquals(contexts.get(r).device().ordinal(), heap.memory(r).context().device().ordinal());
                }
                MemorySegment src = pattern(arena, 64 * 1024, 9);
                upload(contexts.get(0), src, heap.base(0));
                DeviceMemory.copy(contexts.get(3), heap.base(3) + 512, heap.base(0), src.byteSize());
                assertSameBytes(src, download(contexts.get(3), arena, heap.base(3) + 512, src.byteSize()), "rank 3");
                assertAllZero(download(contexts.get(3), arena, heap.base(3), 512), "rank 3 before the copied bytes");
            }
        } finally {
            contexts.forEach(CudaContext::close);
        }
    }

    @Test
    void anExportedFdMapsTheSameMemoryAtASecondAddress() throws Throwable {
        int gpus = gpus();
        try (CudaContext c0 = CudaContext.open(0); CudaContext c1 = CudaContext.open(gpus - 1); Arena arena = Arena.ofConfined()) {
            try (SymmetricMemory exporter = SymmetricMemory.allocate(c0, 2 * MIB, List.of())) {
                exportAndImport(c0, c1, arena, exporter);
            }
        }
    }

    private static void exportAndImport(CudaContext c0, CudaContext c1, Arena arena, SymmetricMemory exporter)
            throws Throwable {
        SymmetricMemory sameDevice;
        SymmetricMemory otherDevice;
        int fd = exporter.exportFd();
        int fd2 = exporter.exportFd();
        try {
            assertTrue(fd >= 0 && fd2 >= 0 && fd != fd2, fd + ", " + fd2);
            assertTrue(Files.exists(Path.of("/proc/self/fd/" + fd)), "fd " + fd + " is open");
            sameDevice = SymmetricMemory.importFd(c0, fd, exporter.byteSize());
            otherDevice = SymmetricMemory.importFd(c1, fd2, exporter.byteSize());
        } finally {
            assertEquals(0, closeFd(fd)); // the caller's to close, right after the import
            assertEquals(0, closeFd(fd2));
        }
        assertFalse(Files.exists(Path.of("/proc/self/fd/" + fd)));
        try (SymmetricMemory a = sameDevice; SymmetricMemory b = otherDevice) {
            assertTrue(a.isImported() && b.isImported() && !exporter.isImported());
            assertNotEquals(exporter.address(), a.address());
            assertNotEquals(a.address(), b.address());
            assertEquals(exporter.byteSize(), a.byteSize());
            assertEquals(Set.of(c1.device()), b.accessibleFrom());
            assertEquals(READWRITE, b.accessFlags(c1.device()));

            // Zero-filled by the exporter, not by the import; then written through one mapping, read through the others.
            assertAllZero(download(c0, arena, a.address(), a.byteSize()), "the imported mapping");
            MemorySegment src = pattern(arena, MIB, 3);
            upload(c0, src, exporter.address());
            assertSameBytes(src, download(c0, arena, a.address(), MIB), "read through the second mapping");
            assertSameBytes(src, download(c1, arena, b.address(), MIB), "read on device " + c1.device().ordinal());
            MemorySegment src2 = pattern(arena, 4096, 11);
            upload(c0, src2, a.address() + MIB);
            assertSameBytes(src2, download(c0, arena, exporter.address() + MIB, 4096), "written through the second");

            // The exporter closes first: the importers' handles keep the memory.
            exporter.close();
            assertThrows(IllegalStateException.class, exporter::exportFd);
            assertSameBytes(src, download(c1, arena, b.address(), MIB), "after the exporter closed");
        }
    }

    @Test
    void closeFreesInOrderOnceAndUseAfterCloseThrows() {
        try (CudaContext c0 = CudaContext.open(0)) {
            SymmetricMemory m = SymmetricMemory.allocate(c0, 1, List.of(c0.device()));
            assertTrue(m.toString().contains("device 0"), m.toString());
            Map<String, Long> before = DriverCalls.snapshot();
            m.close();
            m.close();
            Map<String, Long> calls = DriverCalls.since(before);
            assertEquals(1, count(calls, "cuMemUnmap"), calls.toString());
            assertEquals(1, count(calls, "cuMemRelease"), calls.toString());
            assertEquals(1, count(calls, "cuMemAddressFree"), calls.toString());
            assertTrue(m.isClosed());
            assertThrows(IllegalStateException.class, m::address);
            assertThrows(IllegalStateException.class, m::exportFd);
            assertTrue(m.toString().contains("closed"), m.toString());
        }
    }

    private static int closeFd(int fd) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle close = linker.downcallHandle(linker.defaultLookup().find("close").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        return (int) close.invokeExact(fd);
    }
}
