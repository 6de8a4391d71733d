package ep4j.cuda.memory;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cuda.driver.CudaConstants;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaException;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.CudaUnavailableException;
import ep4j.cuda.driver.VirtualMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Failure paths that only a fake driver can provoke: a teardown call that fails, a creation
 * that fails halfway, a free whose stream is gone. Runs only in {@link FakeDriverTest}'s child
 * JVM (the name keeps Surefire from running it directly; without the fake it skips).
 */
class FakeDriverChecks {
    private static final int POSIX_FD = CudaConstants.CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    private static MethodHandle fail;
    private static MethodHandle log;
    private static MethodHandle logReset;
    private static MethodHandle live;
    private static CudaContext c0;
    private static CudaContext c1;

    @BeforeAll
    @SuppressWarnings("restricted")
    static void fake() {
        String library = System.getProperty("ep4j.cuda.library", "");
        Assumptions.assumeTrue(library.contains("fake"), "runs against the fake libcuda only (FakeDriverTest)");
        Linker linker = Linker.nativeLinker();
        SymbolLookup fake = SymbolLookup.libraryLookup(Path.of(library), Arena.global());
        fail = linker.downcallHandle(fake.find("ep4jFakeFail").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT));
        log = linker.downcallHandle(fake.find("ep4jFakeLog").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        logReset = linker.downcallHandle(fake.find("ep4jFakeLogReset").orElseThrow(), FunctionDescriptor.ofVoid());
        live = linker.downcallHandle(fake.find("ep4jFakeLive").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
        c0 = CudaContext.open(0);
        c1 = CudaContext.open(1);
    }

    @AfterAll
    static void closeContexts() {
        if (c0 != null) {
            c0.close();
            c1.close();
        }
    }

    /** The fake fails the call of {@code symbol} after {@code after} more successful ones. */
    private static void failNext(String symbol, int after) throws Throwable {
        try (Arena arena = Arena.ofConfined()) {
            fail.invokeExact(arena.allocateFrom(symbol), after);
        }
    }

    @SuppressWarnings("restricted")
    private static String calls() throws Throwable {
        MemorySegment s = (MemorySegment) log.invokeExact();
        return s.reinterpret(Long.MAX_VALUE).getString(0);
    }

    private static void resetCalls() throws Throwable {
        logReset.invokeExact();
    }

    private static int live() throws Throwable {
        return (int) live.invokeExact();
    }

    /** The driver calls of the VMM and pool families in {@link #calls()}, in order. */
    private static List<String> memoryCalls() throws Throwable {
        return List.of(calls().trim().split(" ")).stream()
                .filter(c -> c.startsWith("cuMem") && !c.startsWith("cuMemcpy") && !c.startsWith("cuMemset")
                        && !c.equals("cuMemGetAllocationGranularity"))
                .toList();
    }

    @Test
    void structsReachTheFakeAsCudaHDeclaresThem() {
        // The fake reads CUmemAllocationProp with cuda.h's layout and refuses anything off.
        assertEquals(64 << 10, VirtualMemory.granularity(c0, POSIX_FD, false));
        assertEquals(2 << 20, VirtualMemory.granularity(c1, POSIX_FD, true));
        assertEquals(2 << 20, VirtualMemory.allocationUnit(c0, POSIX_FD));
        try (SymmetricMemory m = SymmetricMemory.allocate(c0, 1, List.of(c1.device()))) {
            assertEquals(2 << 20, m.byteSize());
            assertEquals(CudaConstants.CU_MEM_ACCESS_FLAGS_PROT_READWRITE, m.accessFlags(c1.device()));
        }
    }

    @Test
    void closeGoesOnAfterAFailedReleaseAndThrowsIt() throws Throwable {
        int before = live();
        SymmetricMemory m = SymmetricMemory.allocate(c0, 1, List.of(c1.device()));
        failNext("cuMemRelease", 0);
        resetCalls();
        CudaException e = assertThrows(CudaException.class, m::close);
        assertTrue(e.getMessage().startsWith("cuMemRelease(PhysicalMemory[handle "), e.getMessage());
        assertEquals(List.of("cuMemUnmap", "cuMemRelease", "cuMemAddressFree"), memoryCalls());
        assertTrue(m.isClosed());
        resetCalls();
        m.close();
        assertEquals("", calls(), "a second close calls nothing");
        assertEquals(before + 1, live(), "only the allocation whose release failed is left");
    }

    @Test
    void closeGoesOnAfterAFailedUnmapAndSuppressesTheLaterFailures() throws Throwable {
        SymmetricMemory m = SymmetricMemory.allocate(c1, 1, List.of());
        failNext("cuMemUnmap", 0);
        resetCalls();
        CudaException e = assertThrows(CudaException.class, m::close);
        assertTrue(e.getMessage().startsWith("cuMemUnmap(0x"), e.getMessage());
        assertEquals(List.of("cuMemUnmap", "cuMemRelease", "cuMemAddressFree"), memoryCalls());
        // The range is still mapped, so freeing it fails too: suppressed in the first failure.
        assertEquals(1, e.getSuppressed().length, List.of(e.getSuppressed()).toString());
        assertTrue(e.getSuppressed()[0].getMessage().startsWith("cuMemAddressFree(0x"), e.getSuppressed()[0].getMessage());
    }

    @Test
    void aCreationThatFailsHalfwayLeavesNothing() throws Throwable {
        int before = live();
        failNext("cuMemSetAccess", 0);
        resetCalls();
        CudaException e = assertThrows(CudaException.class,
                () -> SymmetricMemory.allocate(c0, 5 << 20, List.of(c1.device(), c0.device())));
        assertTrue(e.getMessage().contains("cuMemSetAccess(0x") && e.getMessage().contains("6291456 bytes, READWRITE for"
                + " devices [0, 1])"), e.getMessage());
        assertEquals(List.of("cuMemCreate", "cuMemAddressReserve", "cuMemMap", "cuMemSetAccess", "cuMemUnmap",
                "cuMemRelease", "cuMemAddressFree"), memoryCalls());
        assertEquals(before, live());
    }

    @Test
    void aHeapThatFailsOnRankOneFreesRankZero() throws Throwable {
        int before = live();
        failNext("cuMemCreate", 1);
        CudaException e = assertThrows(CudaException.class, () -> SymmetricHeap.allocate(List.of(c0, c1), 1));
        assertTrue(e.getMessage().startsWith("cuMemCreate(2097152 bytes, PINNED on device 1, handle types 1)"),
                e.getMessage());
        assertEquals(before, live());
    }

    @Test
    void aPoolClosedAfterABlocksStreamReportsTheBlockAndLaterFreesTouchNothing() throws Throwable {
        StreamPool pool = StreamPool.open(c0);
        CudaStream stream = CudaStream.create(c0);
        StreamPool.Block b = pool.allocate(64, stream);
        stream.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, pool::close);
        assertTrue(e.getMessage().contains("could not be freed") && e.getMessage().contains("is closed"), e.getMessage());
        assertTrue(b.isFreed());
        resetCalls();
        b.close();
        pool.close();
        assertEquals("", calls());
    }

    @Test
    void aCallTheFakeLacksFailsLoudly() {
        // cuCtxEnablePeerAccess (and cuMemAlloc's siblings the memory classes must not use once warm)
        // would reach a stub: the GPU tests passing here shows they made none of those calls.
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> c0.enablePeerAccess(c1));
        assertTrue(e.getMessage().contains("has no symbol cuCtxEnablePeerAccess"), e.getMessage());
    }
}
