package ep4j.cpu.mp;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Starts the ranks of a job as child JVMs running {@link RankMain}, with this test's class path. */
final class ChildJvms implements AutoCloseable {
    final Path dir;
    final String jobId;
    final List<Process> ranks = new ArrayList<>();

    ChildJvms(String jobId) throws IOException {
        this.jobId = jobId;
        this.dir = Files.createTempDirectory("ep4j-mp-" + jobId);
    }

    /** Starts every rank of the job in {@code mode}. */
    ChildJvms start(String mode, int size, long timeoutMillis) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        for (int r = 0; r < size; r++) {
            ProcessBuilder pb = new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss4m",
                    "-cp", cp, RankMain.class.getName(), mode, Integer.toString(r), Integer.toString(size),
                    dir.toString(), jobId, Long.toString(timeoutMillis));
            pb.redirectErrorStream(true).redirectOutput(dir.resolve("log." + r).toFile());
            ranks.add(pb.start());
        }
        return this;
    }

    /** Waits until {@code file} exists in the job's directory (or fails naming the logs). */
    void awaitFile(String file, long millis) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (!Files.exists(dir.resolve(file))) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("no " + file + " after " + millis + " ms; " + logs());
            }
            for (int r = 0; r < ranks.size(); r++) {
                if (Files.exists(dir.resolve("error." + r))) {
                    throw new AssertionError("rank " + r + " failed: " + Files.readString(dir.resolve("error." + r)));
                }
            }
            Thread.sleep(2);
        }
    }

    /** Waits for rank {@code r} to exit; its exit code. */
    int awaitExit(int r, long millis) throws Exception {
        Process p = ranks.get(r);
        if (!p.waitFor(millis, TimeUnit.MILLISECONDS)) {
            throw new AssertionError("rank " + r + " (pid " + p.pid() + ") still runs after " + millis + " ms: it hangs; "
                    + logs());
        }
        return p.exitValue();
    }

    String read(String file) throws IOException {
        return Files.readString(dir.resolve(file));
    }

    String logs() throws IOException {
        StringBuilder s = new StringBuilder();
        for (int r = 0; r < ranks.size(); r++) {
            Path log = dir.resolve("log." + r);
            Path err = dir.resolve("error." + r);
            s.append("\n--- rank ").append(r).append(" log: ").append(Files.exists(log) ? Files.readString(log) : "");
            if (Files.exists(err)) {
                s.append("\n--- rank ").append(r).append(" error: ").append(Files.readString(err));
            }
        }
        return s.toString();
    }

    /** Kills every rank still running (SIGKILL) and removes the job's directory. */
    @Override
    public void close() throws IOException {
        for (Process p : ranks) {
            p.destroyForcibly();
        }
        for (Process p : ranks) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
        }
        Files.deleteIfExists(dir);
    }
}
