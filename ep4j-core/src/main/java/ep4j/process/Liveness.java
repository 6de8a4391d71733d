package ep4j.process;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/**
 * Whether a process lives, told apart from a later process that got its pid: a process is named
 * by its pid and its start time (milliseconds, as {@link ProcessHandle.Info#startInstant()}
 * reports it; 0 when the platform does not say). A zombie (exited, not yet reaped by its parent)
 * counts as dead.
 */
public final class Liveness {
    /** Start times this close name the same process (two readings of one start may round apart). */
    private static final long SAME_START_MILLIS = 1000;
    private static final long SELF_START = startOf(ProcessHandle.current());

    private Liveness() {
    }

    /**
     * When this process started.
     *
     * @return milliseconds since the epoch, or 0 when unknown
     */
    public static long selfStart() {
        return SELF_START;
    }

    private static long startOf(ProcessHandle h) {
        return h.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
    }

    /**
     * Whether the process {@code pid} that started at {@code start} still runs.
     *
     * @param pid   its pid
     * @param start its start time as {@link #selfStart()} gave it there, or 0 for any
     * @return false when no process has that pid, when the one that has it started at another
     *         time, or when it is a zombie
     */
    public static boolean isAlive(long pid, long start) {
        if (pid == ProcessHandle.current().pid()) {
            return start == 0 || SELF_START == 0 || Math.abs(SELF_START - start) <= SAME_START_MILLIS;
        }
        ProcessHandle h = ProcessHandle.of(pid).orElse(null);
        if (h == null || !h.isAlive()) {
            return false;
        }
        if (start != 0) {
            long now = startOf(h);
            if (now != 0 && Math.abs(now - start) > SAME_START_MILLIS) {
                return false;
            }
        }
        return !isZombie(pid);
    }

    /** Linux: the state letter of /proc/pid/stat (after the command's closing parenthesis) is Z or X. */
    private static boolean isZombie(long pid) {
        Path stat = Path.of("/proc", Long.toString(pid), "stat");
        try {
            String s = Files.readString(stat);
            int close = s.lastIndexOf(')');
            if (close < 0 || close + 2 >= s.length()) {
                return false;
            }
            char state = s.charAt(close + 2);
            return state == 'Z' || state == 'X';
        } catch (IOException | RuntimeException e) {
            // No /proc (not Linux), or the process went while we looked: ProcessHandle decides.
            return Files.isDirectory(Path.of("/proc")) && !Files.exists(stat);
        }
    }
}
