package ep4j.cli.launch;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * Runs one command as {@code N} processes, one per rank, and watches them: each line they print
 * goes out prefixed with {@code "[rank r] "} (stdout to stdout, stderr to stderr); when a rank
 * fails (a non-zero exit, or a signal) the others are stopped (SIGTERM, then SIGKILL after the
 * grace period). When this JVM is asked to stop (Ctrl-C, SIGTERM), its shutdown hook stops the
 * ranks the same way; the ranks themselves end when this process disappears ({@link ParentWatch}),
 * so none is left behind.
 */
public final class Launcher {
    /** Where the ranks' environment names this process (read by {@link ParentWatch}). */
    public static final String LAUNCHER_PID_ENV = "EP4J_LAUNCHER_PID";

    private final int ranks;
    private final List<String> command;
    private final IntFunction<Map<String, String>> environment;
    private final Duration grace;
    private final PrintWriter out;
    private final PrintWriter err;

    // Read by the shutdown hook while ranks start.
    private final List<Process> processes = new CopyOnWriteArrayList<>();
    private final List<Thread> pumps = new CopyOnWriteArrayList<>();

    /**
     * @param ranks       how many processes
     * @param command     the command each runs (the same for all)
     * @param environment the variables to set for rank r over this process's environment (a null
     *                    value removes the variable)
     * @param grace       how long a stopped rank has between SIGTERM and SIGKILL
     * @param out         where the ranks' stdout goes, prefixed
     * @param err         where their stderr goes, prefixed
     */
    public Launcher(int ranks, List<String> command, IntFunction<Map<String, String>> environment, Duration grace,
            PrintWriter out, PrintWriter err) {
        this.ranks = ranks;
        this.command = List.copyOf(command);
        this.environment = environment;
        this.grace = grace;
        this.out = out;
        this.err = err;
    }

    /**
     * How the ranks ended.
     *
     * @param exitCodes each rank's exit code (128 + n for signal n), in rank order
     * @param failed    the first rank that failed, or -1
     * @param stopped   the ranks this launcher stopped (SIGTERM) after the failure or interruption
     * @param killed    those of them that needed SIGKILL
     * @param interrupted whether the wait was interrupted (every rank was then stopped)
     */
    public record Outcome(List<Integer> exitCodes, int failed, List<Integer> stopped, List<Integer> killed,
            boolean interrupted) {
        /** Whether every rank exited 0. */
        public boolean ok() {
            return failed < 0 && !interrupted && exitCodes.stream().allMatch(c -> c == 0);
        }

        /** What failed, on one line, e.g. "rank 1 exited with exit code 3; stopped rank 0". */
        public String describe() {
            if (ok()) {
                return "every rank exited 0";
            }
            StringBuilder sb = new StringBuilder();
            if (failed >= 0) {
                sb.append("rank ").append(failed).append(' ').append(howItEnded(exitCodes.get(failed)));
            } else {
                sb.append("interrupted");
            }
            if (!stopped.isEmpty()) {
                sb.append("; stopped ").append(stopped.size() == 1 ? "rank " + stopped.get(0) : "ranks " + stopped);
                if (!killed.isEmpty()) {
                    sb.append(" (").append(killed.size() == 1 ? "rank " + killed.get(0) : "ranks " + killed)
                            .append(" only by SIGKILL)");
                }
            }
            return sb.toString();
        }
    }

    /** "exited with exit code 3", or "was killed by signal 9 (SIGKILL; exit code 137)" for codes past 128. */
    public static String howItEnded(int code) {
        if (code > 128 && code < 128 + 65) {
            int signal = code - 128;
            return "was killed by signal " + signal + " (" + signalName(signal) + "exit code " + code + ")";
        }
        return "exited with exit code " + code;
    }

    private static String signalName(int signal) {
        String name = switch (signal) {
            case 1 -> "SIGHUP";
            case 2 -> "SIGINT";
            case 3 -> "SIGQUIT";
            case 4 -> "SIGILL";
            case 6 -> "SIGABRT";
            case 7 -> "SIGBUS";
            case 8 -> "SIGFPE";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 13 -> "SIGPIPE";
            case 15 -> "SIGTERM";
            default -> null;
        };
        return name == null ? "" : name + "; ";
    }

    /**
     * Starts the ranks and waits until all have ended.
     *
     * @return how they ended
     * @throws IOException when a rank cannot be started (the ones already started are stopped)
     */
    public Outcome run() throws IOException {
        BlockingQueue<Integer> exits = new LinkedBlockingQueue<>();
        Thread hook = new Thread(this::stopAll, "ep4j-launch-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            for (int r = 0; r < ranks; r++) {
                start(r, exits);
            }
        } catch (IOException | RuntimeException e) {
            stopAll();
            removeHook(hook);
            throw e;
        }
        int[] codes = new int[ranks];
        int failed = -1;
        List<Integer> stopped = new ArrayList<>();
        List<Integer> killed = new ArrayList<>();
        long killAt = Long.MAX_VALUE;
        int ended = 0;
        boolean interrupted = false;
        try {
            while (ended < ranks) {
                long wait = killAt == Long.MAX_VALUE ? Long.MAX_VALUE : killAt - System.nanoTime();
                Integer r = wait == Long.MAX_VALUE ? exits.take() : exits.poll(Math.max(0, wait), TimeUnit.NANOSECONDS);
                if (r == null) { // the grace period passed
                    for (int k = 0; k < ranks; k++) {
                        if (processes.get(k).isAlive()) {
                            killed.add(k);
                            kill(processes.get(k), true);
                        }
                    }
                    killAt = Long.MAX_VALUE;
                    continue;
                }
                ended++;
                codes[r] = processes.get(r).exitValue();
                if (codes[r] != 0 && failed < 0 && !stopped.contains(r)) {
                    failed = r;
                    for (int k = 0; k < ranks; k++) {
                        if (processes.get(k).isAlive()) {
                            stopped.add(k);
                            kill(processes.get(k), false);
                        }
                    }
                    if (!stopped.isEmpty()) {
                        killAt = System.nanoTime() + grace.toNanos();
                    }
                }
            }
        } catch (InterruptedException e) {
            interrupted = true;
            stopAll();
            Thread.currentThread().interrupt();
        } finally {
            removeHook(hook);
            drainPumps();
        }
        List<Integer> list = new ArrayList<>();
        for (int c : codes) {
            list.add(c);
        }
        return new Outcome(list, failed, stopped, killed, interrupted);
    }

    private void start(int rank, BlockingQueue<Integer> exits) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command);
        environment.apply(rank).forEach((k, v) -> {
            if (v == null) {
                pb.environment().remove(k);
            } else {
                pb.environment().put(k, v);
            }
        });
        pb.environment().put(LAUNCHER_PID_ENV, Long.toString(ProcessHandle.current().pid()));
        Process p = pb.start();
        processes.add(p);
        p.getOutputStream().close(); // no input: a rank reading stdin sees its end
        pumps.add(pump(p.getInputStream(), out, rank, "out"));
        pumps.add(pump(p.getErrorStream(), err, rank, "err"));
        p.onExit().thenRun(() -> exits.add(rank));
    }

    private static Thread pump(InputStream stream, PrintWriter to, int rank, String name) {
        String prefix = "[rank " + rank + "] ";
        Thread t = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    synchronized (to) {
                        to.println(prefix + line);
                        to.flush();
                    }
                }
            } catch (IOException e) {
                // the rank is gone; what it printed so far went out
            }
        }, "ep4j-launch-rank-" + rank + "-" + name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Stops every rank still running: SIGTERM, then SIGKILL for those alive after the grace period. */
    private void stopAll() {
        List<Process> alive = processes.stream().filter(Process::isAlive).toList();
        if (alive.isEmpty()) {
            return;
        }
        err.println("ep4j launch: stopping " + alive.size() + " rank" + (alive.size() == 1 ? "" : "s"));
        err.flush();
        alive.forEach(p -> kill(p, false));
        long deadline = System.nanoTime() + grace.toNanos();
        for (Process p : alive) {
            try {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !p.waitFor(left, TimeUnit.NANOSECONDS)) {
                    kill(p, true);
                }
            } catch (InterruptedException e) {
                kill(p, true);
            }
        }
        drainPumps();
    }

    private static void kill(Process p, boolean forcibly) {
        // A rank's own children (if any) go first, so that none outlives it.
        p.descendants().forEach(forcibly ? ProcessHandle::destroyForcibly : ProcessHandle::destroy);
        if (forcibly) {
            p.destroyForcibly();
        } else {
            p.destroy();
        }
    }

    /** Lets the ranks' last lines out (bounded: a grandchild could hold a pipe open). */
    private void drainPumps() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (Thread t : pumps) {
            try {
                t.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // shutting down: the hook runs
        }
    }
}
