package ep4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import ep4j.cuda.driver.DriverCalls;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What counting driver calls ({@link DriverCalls}) adds to a downcall: the same libc function
 * ({@code abs}, about the cheapest downcall there is) bound plainly and through
 * {@link DriverCalls#counting}, as static finals like the driver's handles; on one thread and on
 * two threads calling the same counted handle. A driver call itself costs microseconds.
 *
 * <p>Measured on a 2-core VM (JDK 25): abs 7.6 ns plain, 14.4 ns counted; with
 * {@code critical} 2.5 and 8.6 ns; the counter alone ({@link #counterOnly}) 6-9 ns. So the
 * cost is the one atomic add; the fold itself is inlined away.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@State(Scope.Thread)
public class DriverCallsBench {
    private static final MethodHandle PLAIN;
    private static final MethodHandle COUNTED;
    private static final MethodHandle PLAIN_CRITICAL;
    private static final MethodHandle COUNTED_CRITICAL;

    static {
        Linker linker = Linker.nativeLinker();
        var abs = linker.defaultLookup().find("abs").orElseThrow();
        FunctionDescriptor fd = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
        PLAIN = linker.downcallHandle(abs, fd);
        COUNTED = DriverCalls.counting("bench.abs", linker.downcallHandle(abs, fd));
        PLAIN_CRITICAL = linker.downcallHandle(abs, fd, Linker.Option.critical(false));
        COUNTED_CRITICAL = DriverCalls.counting("bench.abs.critical",
                linker.downcallHandle(abs, fd, Linker.Option.critical(false)));
    }

    private static final LongAdder ADDER = new LongAdder();

    private int x = -12345;

    /** The counter alone: what counting costs when the fold is inlined. */
    @Benchmark
    public void counterOnly() {
        ADDER.increment();
    }

    @Benchmark
    public int plain() throws Throwable {
        return (int) PLAIN.invokeExact(x);
    }

    @Benchmark
    public int counted() throws Throwable {
        return (int) COUNTED.invokeExact(x);
    }

    @Benchmark
    public int plainCritical() throws Throwable {
        return (int) PLAIN_CRITICAL.invokeExact(x);
    }

    @Benchmark
    public int countedCritical() throws Throwable {
        return (int) COUNTED_CRITICAL.invokeExact(x);
    }

    @Benchmark
    @Threads(2)
    public int countedTwoThreads() throws Throwable {
        return (int) COUNTED.invokeExact(x);
    }

    @Benchmark
    @Threads(2)
    public int plainTwoThreads() throws Throwable {
        return (int) PLAIN.invokeExact(x);
    }
}
