package ep4j.cli.launch;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * In a rank that {@code ep4j launch} started: ends this process when the launcher goes away, even
 * by SIGKILL (which leaves it no chance to stop its ranks), so that no rank is left behind.
 * Does nothing in a process the launcher did not start itself.
 */
public final class ParentWatch {
    private ParentWatch() {
    }

    /**
     * Starts watching, when {@code env} names a launcher ({@link Launcher#LAUNCHER_PID_ENV}) that is
     * this process's parent; exits at once (code 1) when that launcher is already gone.
     *
     * @param env this process's environment
     * @param err where to say why this rank stops
     */
    public static void start(Map<String, String> env, PrintStream err) {
        String value = env.get(Launcher.LAUNCHER_PID_ENV);
        if (value == null || !value.matches("\\d{1,19}")) {
            return;
        }
        long pid = Long.parseLong(value);
        Optional<ProcessHandle> parent = ProcessHandle.current().parent();
        if (parent.isPresent() && parent.get().pid() == pid) {
            parent.get().onExit().thenRun(() -> stop(pid, err));
        } else if (ProcessHandle.of(pid).isEmpty()) {
            stop(pid, err); // reparented: the launcher died before this rank got here
        }
        // Else: the variable was inherited through another process; not ours to watch.
    }

    private static void stop(long pid, PrintStream err) {
        err.println("ep4j: error: the launcher (ep4j launch, pid " + pid + ") is gone; this rank stops");
        err.flush();
        // Shutdown hooks get a few seconds to release what the rank holds; then it ends regardless.
        Thread halt = new Thread(() -> {
            try {
                Thread.sleep(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                // halt now
            }
            Runtime.getRuntime().halt(1);
        }, "ep4j-parent-watch-halt");
        halt.setDaemon(true);
        halt.start();
        new Thread(() -> System.exit(1), "ep4j-parent-watch-exit").start();
    }
}
