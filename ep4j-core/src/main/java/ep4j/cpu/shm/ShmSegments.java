package ep4j.cpu.shm;

import ep4j.AllocationException;
import ep4j.EpException;
import ep4j.Tensor;
import ep4j.cpu.memory.SharedSegments;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * {@link SharedSegments} for ranks that are processes of one host: a name is a file under
 * /dev/shm ({@link ShmFiles#dir()}), sized sparse (tmpfs gives pages only when they are
 * touched) and mapped read-write by its creator and by every peer. One instance per group and
 * process; releasing a created segment removes its file (the peers' mappings stay valid until
 * they end them).
 */
public final class ShmSegments implements SharedSegments {
    private final Path dir;
    private final String groupStem;
    private final Map<String, Mapping> mappings = new HashMap<>();
    private boolean closed;

    private static final class Mapping {
        final Arena arena;
        final MemorySegment segment;
        final Path file;
        final boolean owner;
        int holders = 1;

        Mapping(Arena arena, MemorySegment segment, Path file, boolean owner) {
            this.arena = arena;
            this.segment = segment;
            this.file = file;
            this.owner = owner;
        }
    }

    /**
     * The segments of one group of this process.
     *
     * @param dir   where the files go
     * @param jobId the job's id, part of every name
     */
    public ShmSegments(Path dir, String jobId) {
        this.dir = dir;
        this.groupStem = ShmFiles.groupStem(jobId);
    }

    /**
     * Where the files go.
     *
     * @return the directory
     */
    public Path dir() {
        return dir;
    }

    @Override
    public String stem(int buffer, int rank) {
        return groupStem + ".b" + buffer + ".r" + rank;
    }

    @Override
    public MemorySegment create(String name, long bytes) {
        Path file = dir.resolve(name);
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ShmFiles.track(file);
            if (bytes > 0) {
                ch.write(ByteBuffer.allocate(1), bytes - 1); // sets the size; the pages stay unallocated
            }
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
            return hold(name, new Mapping(arena, seg, file, true));
        } catch (IOException | RuntimeException e) {
            arena.close();
            ShmFiles.remove(file);
            throw new AllocationException("shared memory file " + file, bytes, Tensor.HOST, e);
        }
    }

    @Override
    public MemorySegment map(String name, long bytes) {
        Path file = dir.resolve(name);
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (ch.size() < bytes) {
                throw new EpException("shared memory file " + file + " has " + ch.size() + " bytes, not " + bytes);
            }
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena);
            return hold(name, new Mapping(arena, seg, file, false));
        } catch (NoSuchFileException e) {
            arena.close();
            throw new EpException("shared memory file " + file + " is gone (its rank released it)", e);
        } catch (IOException e) {
            arena.close();
            throw new EpException("cannot map shared memory file " + file + ": " + e, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Keeps {@code m} (or the mapping of the same name already kept) and returns its memory. */
    private MemorySegment hold(String name, Mapping m) {
        synchronized (mappings) {
            if (closed) {
                m.arena.close();
                throw new IllegalStateException("the group's shared memory was released");
            }
            Mapping had = mappings.get(name);
            if (had != null) {
                // Mapped twice by this process: keep one mapping, count both holders.
                had.holders++;
                m.arena.close();
                return had.segment;
            }
            mappings.put(name, m);
            return m.segment;
        }
    }

    @Override
    public void release(String name, boolean owner) {
        Mapping m;
        synchronized (mappings) {
            m = mappings.get(name);
            if (m == null || --m.holders > 0) {
                return;
            }
            mappings.remove(name);
        }
        end(m);
    }

    private static void end(Mapping m) {
        if (m.owner) {
            ShmFiles.remove(m.file);
        }
        m.arena.close();
    }

    @Override
    public int removeLeftovers(String stem) {
        return ShmFiles.removeStem(dir, stem);
    }

    @Override
    public boolean crossProcess() {
        return true;
    }

    @Override
    public void close() {
        Map<String, Mapping> all;
        synchronized (mappings) {
            closed = true;
            all = new HashMap<>(mappings);
            mappings.clear();
        }
        for (Mapping m : all.values()) {
            end(m);
        }
    }
}
