package ep4j.cuda.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Driver call counting; runs everywhere (the stub case only where there is no driver: CI). */
class DriverCallsTest {

    @Test
    void everyCallTheDesignRuleNamesIsBoundAndCountedByItsExactSymbol() {
        Map<String, Long> all = DriverCalls.snapshot();
        for (String symbol : List.of("cuMemAlloc_v2", "cuMemFree_v2", "cuMemFreeHost", "cuMemHostAlloc",
                "cuModuleLoadData", "cuCtxSynchronize", "cuStreamSynchronize", "cuLaunchKernel", "cuMemCreate",
                "cuMemMap", "cuMemAllocAsync", "cuMemAllocFromPoolAsync", "cuMemFreeAsync", "cuCtxEnablePeerAccess")) {
            assertTrue(all.containsKey(symbol), symbol + " is not among the bound symbols " + all.keySet());
        }
        // The versioned names, never the unversioned macros.
        assertTrue(!all.containsKey("cuMemAlloc") && !all.containsKey("cuMemFree"), all.keySet().toString());
    }

    @Test
    void aStubBoundSymbolCountsTheCallItRefuses() throws Throwable {
        Assumptions.assumeFalse(Driver.isAvailable(), "a CUDA driver is present here: its symbols are not stubs");
        Map<String, Long> before = DriverCalls.snapshot();
        long n = DriverCalls.count("cuMemAlloc_v2");
        MemorySegment out = MemorySegment.NULL;
        for (int i = 0; i < 3; i++) {
            assertThrows(CudaUnavailableException.class, () -> {
                int r = (int) Cu.cuMemAlloc.invokeExact(out, 64L);
            });
        }
        assertEquals(n + 3, DriverCalls.count("cuMemAlloc_v2"));
        assertThrows(CudaUnavailableException.class, () -> {
            int r = (int) Cu.cuMemFreeAsync.invokeExact(0x1000L, MemorySegment.NULL);
        });
        assertEquals(Map.of("cuMemAlloc_v2", 3L, "cuMemFreeAsync", 1L), DriverCalls.since(before));
    }

    static int twice(int x) {
        return 2 * x;
    }

    @Test
    void countingKeepsTheTypeAndTheResultAndSharesOneCounterPerSymbol() throws Throwable {
        MethodHandle target = MethodHandles.lookup().findStatic(DriverCallsTest.class, "twice",
                MethodType.methodType(int.class, int.class));
        MethodHandle a = DriverCalls.counting("test.twice", target);
        MethodHandle b = DriverCalls.counting("test.twice", target);
        assertEquals(target.type(), a.type());
        long n = DriverCalls.count("test.twice");
        for (int i = 0; i < 1000; i++) {
            assertEquals(2 * i, (int) a.invokeExact(i)); // invokeExact: the type is unchanged
        }
        int r = (int) b.invokeExact(21);
        assertEquals(42, r);
        assertEquals(n + 1001, DriverCalls.count("test.twice"));
        assertEquals(0, DriverCalls.count("cuNoSuchFunction"));
    }

    @Test
    void countsAddUpAcrossThreads() throws Exception {
        MethodHandle target = MethodHandles.lookup().findStatic(DriverCallsTest.class, "twice",
                MethodType.methodType(int.class, int.class));
        MethodHandle h = DriverCalls.counting("test.threads", target);
        long n = DriverCalls.count("test.threads");
        Thread[] threads = new Thread[4];
        for (int t = 0; t < threads.length; t++) {
            threads[t] = new Thread(() -> {
                try {
                    for (int i = 0; i < 10_000; i++) {
                        int r = (int) h.invokeExact(i);
                    }
                } catch (Throwable e) {
                    throw new AssertionError(e);
                }
            });
            threads[t].start();
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(n + 40_000, DriverCalls.count("test.threads"));
    }
}
