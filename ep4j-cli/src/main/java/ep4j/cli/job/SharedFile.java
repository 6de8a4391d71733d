package ep4j.cli.job;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A file in shared memory (/dev/shm) that the processes of a job on one host map, to meet or to
 * read each other's bytes. The creator names it {@code ep4j.<pid>.<start>.cli-<what>-<random>}:
 * the naming of the CPU backend's own files (pid and start time in milliseconds, as
 * {@link ProcessHandle.Info#startInstant()} gives it), so that a file a killed job left behind is
 * removed by the next multi-process CPU group that starts on this host (it sweeps files whose
 * creating process no longer runs). The creator removes it by {@link #unlink} as soon as every
 * process has mapped it (a mapping outlives its file's name), and at the latest when this JVM
 * exits normally.
 */
public final class SharedFile implements AutoCloseable {
    /** Overrides the directory, as for the CPU backend's files (tests). */
    static final String DIR_PROPERTY = "ep4j.shm.dir";

    private static final Set<Path> CREATED = ConcurrentHashMap.newKeySet();
    private static volatile boolean hooked;

    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;
    private final boolean created;

    private SharedFile(Path path, Arena arena, MemorySegment segment, boolean created) {
        this.path = path;
        this.arena = arena;
        this.segment = segment;
        this.created = created;
    }

    /**
     * Where the files go: {@value #DIR_PROPERTY} when set, else /dev/shm when writable, else the
     * temporary directory.
     */
    public static Path dir() {
        String p = System.getProperty(DIR_PROPERTY);
        if (p != null && !p.isBlank()) {
            return Path.of(p);
        }
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }

    /**
     * Creates a zero-filled file of {@code bytes} bytes and maps it for reading and writing.
     *
     * @param what a word for the name (letters, digits, dashes), e.g. "bench-barrier"
     */
    public static SharedFile create(String what, long bytes) {
        if (!what.matches("[A-Za-z0-9-]+")) {
            throw new IllegalArgumentException("shared file tag '" + what + "': expected letters, digits and dashes");
        }
        if (bytes <= 0) {
            throw new IllegalArgumentException("shared file of " + bytes + " bytes: expected > 0");
        }
        byte[] random = new byte[8];
        new SecureRandom().nextBytes(random);
        long start = ProcessHandle.current().info().startInstant().map(Instant::toEpochMilli).orElse(0L);
        Path path = dir().resolve("ep4j." + ProcessHandle.current().pid() + "." + start + ".cli-" + what + "-"
                + HexFormat.of().formatHex(random));
        track(path);
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            return new SharedFile(path, arena, ch.map(FileChannel.MapMode.READ_WRITE, 0, bytes, arena), true);
        } catch (IOException | RuntimeException e) {
            arena.close();
            remove(path);
            throw new UncheckedIOException(new IOException("cannot create " + path + " (" + bytes + " bytes) for "
                    + what + ": " + e.getMessage(), e));
        }
    }

    /**
     * Maps a file another process of the job created.
     *
     * @param writable map it for writing too (else read-only)
     * @param bytes    its size, as the creator made it
     */
    public static SharedFile open(Path path, long bytes, boolean writable) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = writable ? FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size != bytes) {
                throw new IOException("it holds " + size + " bytes, expected " + bytes);
            }
            return new SharedFile(path, arena, ch.map(writable ? FileChannel.MapMode.READ_WRITE
                    : FileChannel.MapMode.READ_ONLY, 0, bytes, arena), false);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw new UncheckedIOException(new IOException("cannot map " + path + ", which another rank of the job"
                    + " created (are all ranks on one host?): " + e.getMessage(), e));
        }
    }

    public Path path() {
        return path;
    }

    /** The mapping; valid until {@link #close}. */
    public MemorySegment segment() {
        return segment;
    }

    /** Removes the file's name (the creator, once every process has mapped it); the mappings stay. */
    public void unlink() {
        if (created) {
            remove(path);
        }
    }

    /** Unmaps it; the creator also removes the file if it has not already. Twice is harmless. */
    @Override
    public synchronized void close() {
        try {
            if (arena.scope().isAlive()) {
                arena.close();
            }
        } finally {
            unlink();
        }
    }

    private static void track(Path path) {
        if (!hooked) {
            synchronized (SharedFile.class) {
                if (!hooked) {
                    Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("ep4j-cli-shm-cleanup")
                            .unstarted(() -> CREATED.forEach(SharedFile::delete)));
                    hooked = true;
                }
            }
        }
        CREATED.add(path);
    }

    private static void remove(Path path) {
        if (delete(path)) {
            CREATED.remove(path);
        }
    }

    private static boolean delete(Path path) {
        try {
            Files.deleteIfExists(path);
            return true;
        } catch (IOException e) {
            return false; // left for the exit hook or the next group's sweep
        }
    }
}
