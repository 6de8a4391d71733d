package ep4j.cli.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Where the {@link HostCopyBaseline}'s source areas live, so that every rank can read every
 * other's: this JVM's memory ({@link #inJvm()}), or files in shared memory that every process of
 * a job on one host maps ({@link SharedCopySources}). Calls come from the rank threads.
 */
interface CopySources extends AutoCloseable {
    /** A new writable area of {@code bytes} bytes that {@code rank} owns. */
    MemorySegment own(int rank, long bytes);

    /**
     * After {@code rank} has filled its own area ({@code areas[rank]}): puts into {@code areas}
     * every area this process does not own yet, {@code sizes[r]} bytes each (a collective in a job).
     */
    void share(int rank, MemorySegment[] areas, long[] sizes);

    @Override
    void close();

    /** Every rank in this JVM: memory of one shared arena, visible to all rank threads. */
    static CopySources inJvm() {
        Arena arena = Arena.ofShared();
        return new CopySources() {
            @Override
            public MemorySegment own(int rank, long bytes) {
                return arena.allocate(bytes, 64);
            }

            @Override
            public void share(int rank, MemorySegment[] areas, long[] sizes) {
                // The other rank threads fill theirs in the same array; the barrier before the copies publishes them.
            }

            @Override
            public void close() {
                arena.close();
            }
        };
    }
}
