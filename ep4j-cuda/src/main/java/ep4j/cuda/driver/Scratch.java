package ep4j.cuda.driver;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Per-thread room for a driver call's out-parameters, so creating a stream or querying a device
 * allocates nothing. Only valid between a call and reading its results: anything in between
 * (another driver wrapper) may reuse it.
 */
final class Scratch {
    static final long SIZE = 128;

    // Auto arena: the segment goes with its thread, and any thread may read it.
    private static final ThreadLocal<MemorySegment> SEGMENT =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(SIZE, 16));

    private Scratch() {}

    /** Zeroed scratch of {@link #SIZE} bytes. */
    static MemorySegment get() {
        return SEGMENT.get().fill((byte) 0);
    }
}
