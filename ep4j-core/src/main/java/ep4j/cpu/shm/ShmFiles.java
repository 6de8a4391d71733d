package ep4j.cpu.shm;

import ep4j.process.Liveness;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The files of multi-process CPU groups under /dev/shm: their names, and their removal in every
 * way a job can end.
 *
 * <p>A name is {@code ep4j.<pid>.<start>.<job>.g<group>.b<buffer>.r<rank>.<what>}: the creating
 * process (pid and start time, see {@link Liveness}), the job ({@code Rendezvous.jobId()}), the
 * group's number in that process, the buffer set's number in the group, the rank, and what the
 * file holds. They go: when their owner releases them (close); at normal JVM exit (a shutdown
 * hook removes what is left); when a surviving peer closes its buffer after their owner died (it
 * removes them for it); and, after every process of a job was killed, when the next multi-process
 * group starts on this host ({@link #sweep}: files whose creating process no longer runs).
 */
public final class ShmFiles {
    /** Every file name of ours starts so. */
    public static final String PREFIX = "ep4j.";
    /** Overrides the directory (tests). */
    public static final String DIR_PROPERTY = "ep4j.shm.dir";

    private static final AtomicLong GROUPS = new AtomicLong();
    private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();
    private static volatile boolean hooked;

    private ShmFiles() {
    }

    /**
     * Where the files go: {@value #DIR_PROPERTY} when set, else /dev/shm when it exists, else the
     * temporary directory (memory-mapped files there work alike, only through the page cache).
     *
     * @return the directory
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
     * The stem of a group's names in this process.
     *
     * @param jobId the job's id (characters other than letters, digits and dashes are replaced)
     * @return {@code ep4j.<pid>.<start>.<job>.g<n>}, a new {@code n} each call
     */
    public static String groupStem(String jobId) {
        String job = jobId.replaceAll("[^A-Za-z0-9-]", "-");
        if (job.length() > 64) {
            job = job.substring(0, 48) + "-" + Integer.toHexString(jobId.hashCode());
        }
        return PREFIX + ProcessHandle.current().pid() + "." + Liveness.selfStart() + "." + job + ".g"
                + GROUPS.incrementAndGet();
    }

    /**
     * The process that created a file of ours.
     *
     * @param pid   its pid
     * @param start its start time
     */
    public record Creator(long pid, long start) {
    }

    /**
     * The creator a file name names.
     *
     * @param fileName a file name
     * @return its creator, or null when the name is not one of ours
     */
    public static Creator creator(String fileName) {
        if (!fileName.startsWith(PREFIX)) {
            return null;
        }
        String[] parts = fileName.split("\\.");
        if (parts.length < 4) {
            return null;
        }
        try {
            return new Creator(Long.parseLong(parts[1]), Long.parseLong(parts[2]));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * Removes the files of ours whose creating process no longer runs (left by a killed job).
     *
     * @param dir the directory to look in
     * @return the files removed
     */
    public static List<Path> sweep(Path dir) {
        List<Path> removed = new java.util.ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, PREFIX + "*")) {
            for (Path f : files) {
                Creator c = creator(f.getFileName().toString());
                try {
                    if (c != null && !Liveness.isAlive(c.pid(), c.start()) && Files.deleteIfExists(f)) {
                        removed.add(f);
                    }
                } catch (IOException e) {
                    // Another user's file, or one that went meanwhile: not ours to remove now.
                }
            }
        } catch (IOException | java.nio.file.DirectoryIteratorException e) {
            // A directory we cannot list holds nothing we could remove; the next start tries again.
        }
        return removed;
    }

    /**
     * Removes the files whose names start with {@code stem} followed by a dot.
     *
     * @param dir  the directory
     * @param stem a rank's stem
     * @return how many were removed
     */
    static int removeStem(Path dir, String stem) {
        int n = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, stem + ".*")) {
            for (Path f : files) {
                if (Files.deleteIfExists(f)) {
                    n++;
                }
                LIVE.remove(f);
            }
        } catch (IOException e) {
            // Whatever stays is swept at the next start.
        }
        return n;
    }

    /** A file this process created: removed at JVM exit unless {@link #remove removed} before. */
    static void track(Path file) {
        if (!hooked) {
            synchronized (ShmFiles.class) {
                if (!hooked) {
                    Runtime.getRuntime().addShutdownHook(
                            Thread.ofPlatform().name("ep4j-shm-cleanup").unstarted(ShmFiles::removeAll));
                    hooked = true;
                }
            }
        }
        LIVE.add(file);
    }

    /** Removes {@code file} now and stops tracking it. */
    static void remove(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // Left for the shutdown hook or the next start's sweep.
            return;
        }
        LIVE.remove(file);
    }

    private static void removeAll() {
        for (Path f : LIVE) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                // Nothing more to do at exit; the next start's sweep removes it.
            }
        }
    }
}
