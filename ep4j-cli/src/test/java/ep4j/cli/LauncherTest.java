package ep4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the real {@code bin/ep4j} script, as a user does, and checks what reaches the terminal.
 * The script is pointed at the class path this test runs on ({@code EP4J_CLASSPATH}), so it
 * builds nothing: under {@code mvn test} on a fresh clone there is no target/lib yet, and a
 * Maven build started from inside the test would race the one running it.
 */
class LauncherTest {
    @TempDir
    Path dir;

    /** The script, found from the module folder the tests run in (ep4j-cli). */
    static Path script() {
        Path p = Path.of("").toAbsolutePath().resolveSibling("bin").resolve("ep4j");
        if (!Files.isExecutable(p)) {
            p = Path.of(System.getProperty("basedir", ".")).toAbsolutePath().resolveSibling("bin").resolve("ep4j");
        }
        assertTrue(Files.isExecutable(p), "bin/ep4j not found or not executable at " + p);
        return p;
    }

    ChildRun run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(script().toString());
        cmd.addAll(List.of(args));
        return ChildRun.of(dir, Map.of("JAVA_HOME", System.getProperty("java.home"), "EP4J_CLASSPATH",
                ChildRun.classPath()), cmd);
    }

    @Test
    void aFailureReachesTheUserAsOneErrorLine() throws Exception {
        Path missing = dir.resolve("no-such-case");
        Path out = dir.resolve("out");
        ChildRun r = run("replay", "--in", missing.toString(), "--out", out.toString(), "--backend", "cpu");
        assertNotEquals(0, r.code(), r.toString());
        assertEquals(1, r.code(), r.toString());
        List<String> lines = r.err().strip().lines().toList();
        assertEquals(1, lines.size(), r.toString());
        assertTrue(lines.get(0).startsWith("ep4j: error: "), r.toString());
        assertTrue(lines.get(0).contains(missing.toString()), r.toString());
        assertFalse(r.err().contains("\tat "), r.toString());
        assertFalse(Files.exists(out), "nothing written at --out");
    }

    @Test
    void usageErrorsAndTheProgressBarReachStderr() throws Exception {
        ChildRun usage = run("bench", "--no-such-option");
        assertEquals(2, usage.code(), usage.toString());
        assertTrue(usage.err().contains("--no-such-option"), usage.toString());

        ChildRun bench = run("bench", "--quick", "--backend", "cpu", "--ranks", "2", "--iters", "1", "--warmup", "0",
                "--sweep-tokens", "32", "--ll-sweep-tokens", "4", "--progress", "--out", dir.resolve("b").toString());
        assertEquals(0, bench.code(), bench.toString());
        assertTrue(bench.err().contains("100%"), bench.toString());
        assertTrue(bench.out().contains("wrote " + dir.resolve("b").resolve("bench.json")), bench.toString());
    }
}
