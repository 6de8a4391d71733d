package ep4j.cpu.memory;

import java.lang.foreign.MemorySegment;

/**
 * Named memory that every rank of a buffer set can map: the only way words and rows pass between
 * the ranks of the CPU backend, whether they are threads of one JVM or processes. The protocol
 * over it ({@code ep4j.cpu.control.Exchange}) is one; where the memory comes from is the only
 * thing that differs, hence two implementations of this small interface:
 * {@link JvmSegments} (ranks are threads: a name is an allocation of this JVM) and
 * {@code ep4j.cpu.shm.ShmSegments} (ranks are processes: a name is a file under /dev/shm that
 * every process maps).
 *
 * <p>Lifetime: a segment lives while its creator or any mapper holds it. The creator's
 * {@link #release} removes the name (no new mapping can be made), a mapper's ends its mapping.
 */
public interface SharedSegments extends AutoCloseable {
    /**
     * The stem of every name one rank's buffer uses; a segment's name is the stem plus a suffix.
     *
     * @param buffer the buffer set's number in its group (the same on every rank)
     * @param rank   the rank that creates the segments
     * @return a name stem unique to this group, buffer and rank
     */
    String stem(int buffer, int rank);

    /**
     * Creates a segment, zero-filled, owned by the caller.
     *
     * @param name  a name made from a {@link #stem}
     * @param bytes its size
     * @return the memory, page-aligned
     * @throws ep4j.AllocationException when it cannot be had
     */
    MemorySegment create(String name, long bytes);

    /**
     * Maps a segment a peer created.
     *
     * @param name  its name
     * @param bytes its size (as the creator published it)
     * @return the memory, shared with the creator
     * @throws ep4j.EpException when no segment has that name (its creator released it)
     */
    MemorySegment map(String name, long bytes);

    /**
     * Gives back a segment of {@link #create} (the name goes) or of {@link #map}; unknown names
     * and second releases are ignored.
     *
     * @param name  the name it was created or mapped under
     * @param owner whether the caller created it
     */
    void release(String name, boolean owner);

    /**
     * Removes the names a dead rank left behind (what it would have released had it lived).
     *
     * @param stem that rank's {@link #stem}
     * @return how many names were removed
     */
    int removeLeftovers(String stem);

    /**
     * Whether the ranks may be other processes: then no wake-up reaches a waiting rank (waits
     * poll), and a peer may die on its own (waits check that it lives).
     *
     * @return true for memory shared between processes
     */
    boolean crossProcess();

    /**
     * The process that creates the segments, as peers see it.
     *
     * @return its pid
     */
    default long pid() {
        return ProcessHandle.current().pid();
    }

    /** Releases everything still created or mapped here. Twice is harmless. */
    @Override
    void close();
}
