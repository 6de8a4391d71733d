package ep4j.cuda.driver;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * How many times each driver function was called in this process, by exact exported symbol
 * ({@code cuMemAlloc_v2}, {@code cuMemFreeAsync}, ...). Always on: it is how tests and users
 * check the rule of DESIGN section 3 that a warm rank never calls {@code cuMemAlloc_v2},
 * {@code cuMemFree_v2}, {@code cuMemFreeHost} or {@code cuModuleLoadData} (measured on H200,
 * driver 580: cuMemFree, cuMemFreeHost and cuModuleLoad wait for every kernel on the GPU, so a
 * kernel spinning for a peer stalls them).
 *
 * <p>How: every handle in {@link Cu} is bound through {@link #counting}, which folds a
 * {@link LongAdder#increment()} in front of the downcall ({@link MethodHandles#foldArguments}
 * with a no-argument combiner). The handle keeps its exact type, so {@code invokeExact} call
 * sites are unchanged, and since the handles are static finals the JIT inlines the increment
 * into the call site. Cost: one atomic add, 6-7 ns per call measured on a 2-core VM (a libc
 * downcall went from 7.6 to 14.4 ns; ep4j-bench {@code DriverCallsBench}), next to the 3.6 us of
 * host time a kernel launch takes. Threads of different ranks calling the same function at once
 * do not serialise on one cache line: a LongAdder spreads contended increments over cells.
 *
 * <p>What counts: a call is counted when it is made, before the driver runs it, so calls that
 * fail count too, and so do calls of a symbol the library lacks (bound to a stub that throws
 * {@link CudaUnavailableException}). Counts only grow; compare two {@link #snapshot()}s, or use
 * {@link #since}, to count the calls of a stretch of code. They are process-wide: calls from
 * every thread and every device add up.
 */
public final class DriverCalls {
    private static final ConcurrentHashMap<String, LongAdder> COUNTERS = new ConcurrentHashMap<>();
    private static final MethodHandle INCREMENT;

    static {
        try {
            INCREMENT = MethodHandles.lookup().findVirtual(LongAdder.class, "increment",
                    MethodType.methodType(void.class));
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    private DriverCalls() {}

    /**
     * {@code target} with a counter for {@code symbol} incremented before each call; the same
     * type as {@code target}. Handles counted under one symbol share one counter.
     */
    public static MethodHandle counting(String symbol, MethodHandle target) {
        LongAdder counter = COUNTERS.computeIfAbsent(symbol, s -> new LongAdder());
        return MethodHandles.foldArguments(target, INCREMENT.bindTo(counter));
    }

    /** Calls of {@code symbol} so far; 0 for a symbol never bound. */
    public static long count(String symbol) {
        Cu.bindAll();
        LongAdder c = COUNTERS.get(symbol);
        return c == null ? 0 : c.sum();
    }

    /** Calls so far of every bound symbol (zeros included), sorted by symbol. */
    public static Map<String, Long> snapshot() {
        Cu.bindAll();
        Map<String, Long> out = new TreeMap<>();
        COUNTERS.forEach((symbol, c) -> out.put(symbol, c.sum()));
        return out;
    }

    /** The calls made since {@code before} (a {@link #snapshot()}), symbols with none left out, sorted. */
    public static Map<String, Long> since(Map<String, Long> before) {
        Map<String, Long> out = new TreeMap<>();
        snapshot().forEach((symbol, n) -> {
            long d = n - before.getOrDefault(symbol, 0L);
            if (d != 0) {
                out.put(symbol, d);
            }
        });
        return out;
    }
}
