package ep4j.cuda.memory;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.InvalidArgumentException;
import ep4j.cuda.GpuRequired;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.Driver;
import ep4j.cuda.driver.DriverCalls;
import ep4j.cuda.driver.MemoryPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Stream-ordered allocation on a real GPU: {@code mvn -Pgpu test -pl ep4j-cuda -am
 * -Dtest=StreamPoolGpuTest}. The point (DESIGN section 3): once warm, allocating and freeing
 * makes no cuMemAlloc_v2/cuMemFree_v2 call (nor any other call that waits for the device), and
 * the pool neither grows nor gives memory back.
 */
@Tag("gpu")
class StreamPoolGpuTest {
    private static final long MIB = 1L << 20;
    /** Sizes a rank's calls might take: small control words, odd sizes, a few MiB. */
    private static final long[] SIZES = {256, 4096 + 17, MIB, 3 * MIB + 5, 64};
    /** Driver calls that wait for every kernel on the GPU, or allocate outside the pool. */
    private static final List<String> FORBIDDEN_WHEN_WARM = List.of("cuMemAlloc_v2", "cuMemFree_v2", "cuMemHostAlloc",
            "cuMemFreeHost", "cuModuleLoadData", "cuCtxSynchronize", "cuMemCreate", "cuMemRelease");

    @BeforeAll
    static void needsAGpu() {
        GpuRequired.driver();
    }

    private static long count(Map<String, Long> calls, String symbol) {
        return calls.getOrDefault(symbol, 0L);
    }

    @Test
    void warmAllocationsAndFreesMakeNoDeviceWideCalls() {
        try (CudaContext ctx = CudaContext.open(0); CudaStream stream = CudaStream.create(ctx);
                StreamPool pool = StreamPool.open(ctx)) {
            try (MemoryPool p = MemoryPool.deviceDefault(ctx)) {
                assertEquals(-1L, p.releaseThreshold(), "release threshold is UINT64_MAX");
            }
            // Warm-up: every size once (the pool grows here), with synchronisation points in between.
            for (int round = 0; round < 3; round++) {
                for (long size : SIZES) {
                    StreamPool.Block b = pool.allocate(size, stream);
                    DeviceMemory.zeroAsync(b.address(), size, stream);
                    b.close();
                }
                stream.synchronize();
            }
            long reserved = pool.reservedBytes();
            assertTrue(reserved > 0, "the pool holds the warm-up's memory: " + reserved);

            Map<String, Long> before = DriverCalls.snapshot();
            for (int i = 0; i < 1000; i++) {
                long size = SIZES[i % SIZES.length];
                StreamPool.Block b = pool.allocate(size, stream);
                DeviceMemory.zeroAsync(b.address(), size, stream); // the memory is used, in stream order
                b.close();
                if (i % 100 == 99) {
                    stream.synchronize(); // where a pool with a low threshold would give memory back
                }
            }
            stream.synchronize();
            Map<String, Long> calls = DriverCalls.since(before);
            for (String symbol : FORBIDDEN_WHEN_WARM) {
                assertEquals(0, count(calls, symbol), symbol + " in a warm alloc/free loop; all calls: " + calls);
            }
            // Every size was freed on its own stream before: the pool's cache serves them all.
            assertEquals(0, count(calls, "cuMemAllocFromPoolAsync"), calls.toString());
            assertEquals(0, count(calls, "cuMemFreeAsync"), calls.toString());
            assertEquals(11, count(calls, "cuStreamSynchronize"), calls.toString());
            assertEquals(reserved, pool.reservedBytes(), "the warm pool neither grew nor gave memory back");
            assertEquals(0, pool.outstandingBlocks());
            assertEquals(0, pool.outstandingBytes());
        }
    }

    @Test
    void blocksHoldDataInStreamOrder() {
        try (CudaContext ctx = CudaContext.open(0); CudaStream stream = CudaStream.create(ctx);
                CudaStream other = CudaStream.create(ctx); StreamPool pool = StreamPool.open(ctx);
                Arena arena = Arena.ofConfined()) {
            long n = MIB + 3;
            MemorySegment src = arena.allocate(n);
            for (long i = 0; i < n; i++) {
                src.set(JAVA_BYTE, i, (byte) (i * 7 + 1));
            }
            MemorySegment back = arena.allocate(n);
            StreamPool.Block a = pool.allocate(n, stream);
            StreamPool.Block b = pool.allocate(n, stream);
            assertNotEquals(a.address(), b.address());
            assertEquals(2, pool.outstandingBlocks());
            assertEquals(2 * n, pool.outstandingBytes());
            DeviceMemory.copyFromHostAsync(src, a.address(), stream);
            DeviceMemory.copy(b.address(), a.address(), n, stream);
            DeviceMemory.copyToHostAsync(b.address(), back, stream);
            a.close(); // ordered after the copies on the same stream
            stream.synchronize();
            assertEquals(-1, src.mismatch(back));
            assertTrue(a.isFreed());
            assertThrows(IllegalStateException.class, a::address);
            a.close(); // harmless

            // Freed on another stream: the caller orders it after the last use (here: synchronised).
            b.free(other);
            other.synchronize();
            assertTrue(b.isFreed());
            assertEquals(0, pool.outstandingBlocks());

            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> pool.allocate(0, stream));
            assertEquals("bytes", e.argument());
        }
    }

    @Test
    void aBlockFreedOnItsStreamIsReusedWithoutTheDriver() {
        try (CudaContext ctx = CudaContext.open(0); CudaStream stream = CudaStream.create(ctx);
                CudaStream other = CudaStream.create(ctx)) {
            StreamPool pool = StreamPool.open(ctx);
            StreamPool.Block a = pool.allocate(MIB, stream);
            long address = a.address();
            Map<String, Long> before = DriverCalls.snapshot();
            a.close();
            StreamPool.Block b = pool.allocate(MIB, stream);
            assertEquals(Map.of(), DriverCalls.since(before), "freed and taken back without a driver call");
            assertEquals(address, b.address());
            assertThrows(IllegalStateException.class, a::address, "the old block stays freed");

            // Another size, or another stream: the driver's pool.
            before = DriverCalls.snapshot();
            StreamPool.Block c = pool.allocate(MIB + 1, stream);
            b.close();
            StreamPool.Block d = pool.allocate(MIB, other);
            assertEquals(2, count(DriverCalls.since(before), "cuMemAllocFromPoolAsync"));
            assertNotEquals(address, d.address());
            assertEquals(1, pool.cachedBlocks());

            // Freed on another stream than its own: back to the driver. Reuse off: the same.
            before = DriverCalls.snapshot();
            d.free(stream);
            pool.reuse(false);
            c.close();
            assertEquals(2, count(DriverCalls.since(before), "cuMemFreeAsync"));
            assertEquals(1, pool.cachedBlocks());
            StreamPool.Block e = pool.allocate(MIB, stream);
            assertNotEquals(address, e.address(), "no reuse while reuse is off");
            pool.reuse(true);
            e.close();

            // Closing the pool gives the cached blocks back.
            before = DriverCalls.snapshot();
            pool.close();
            assertEquals(2, count(DriverCalls.since(before), "cuMemFreeAsync"));
            assertEquals(0, pool.cachedBlocks());
            stream.synchronize();
            other.synchronize();
        }
    }

    @Test
    void closingThePoolFreesOutstandingBlocksAndLaterFreesTouchNothing() {
        try (CudaContext ctx = CudaContext.open(0); CudaStream stream = CudaStream.create(ctx)) {
            StreamPool pool = StreamPool.open(ctx);
            StreamPool.Block kept = pool.allocate(MIB, stream);
            StreamPool.Block other = pool.allocate(64, stream);
            Map<String, Long> before = DriverCalls.snapshot();
            pool.close();
            assertEquals(2, count(DriverCalls.since(before), "cuMemFreeAsync"), "close frees what is outstanding");
            assertTrue(kept.isFreed() && other.isFreed());
            assertTrue(pool.isClosed());

            before = DriverCalls.snapshot();
            kept.close(); // after the pool: nothing reaches the driver
            other.free(stream);
            pool.close();
            assertEquals(Map.of(), DriverCalls.since(before), "no driver call after the pool closed");
            assertThrows(IllegalStateException.class, kept::address);
            assertThrows(IllegalStateException.class, () -> pool.allocate(64, stream));
            stream.synchronize();
        }
    }

    @Test
    void aStreamOfAnotherDeviceIsRefused() {
        Assumptions.assumeTrue(Driver.deviceCount() >= 2, "needs 2 GPUs");
        try (CudaContext c0 = CudaContext.open(0); CudaContext c1 = CudaContext.open(1);
                CudaStream s1 = CudaStream.create(c1); StreamPool pool = StreamPool.open(c0)) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> pool.allocate(64, s1));
            assertEquals("stream", e.argument());
            assertTrue(e.getMessage().contains("a stream of device 0"), e.getMessage());
            assertFalse(pool.isClosed());
        }
    }

    @Test
    void plainAllocationsAreCountedToo() {
        try (CudaContext ctx = CudaContext.open(0)) {
            Map<String, Long> before = DriverCalls.snapshot();
            DeviceMemory.allocate(ctx, MIB).close();
            Map<String, Long> calls = DriverCalls.since(before);
            assertEquals(1, count(calls, "cuMemAlloc_v2"), calls.toString());
            assertEquals(1, count(calls, "cuMemFree_v2"), calls.toString());
        }
    }
}
