package ep4j.cli.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ep4j.cli.ChildRun;
import ep4j.cli.Main;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ep4j launch}: the real command through bin/ep4j, and the launcher's supervision with
 * {@link FakeRank}s (ranks that fail, die by a signal, ignore SIGTERM, or outlive a killed launcher).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LaunchCommandTest {
    @TempDir
    Path dir;

    /** The JVM command of a {@link FakeRank} on this test's class path. */
    static List<String> fakeRank(String... args) {
        List<String> cmd = new ArrayList<>(List.of(ChildRun.java(), "-cp", ChildRun.classPath(),
                FakeRank.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    record Run(Launcher.Outcome outcome, String out, String err, long millis) {
        @Override
        public String toString() {
            return outcome + " in " + millis + " ms\n--- out\n" + out + "--- err\n" + err;
        }
    }

    static Run launch(int ranks, Duration grace, String... args) throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        long t0 = System.nanoTime();
        Launcher.Outcome o = new Launcher(ranks, fakeRank(args),
                r -> LaunchCommand.environment(r, ranks, 29999, "secret"), grace, new PrintWriter(out),
                new PrintWriter(err)).run();
        return new Run(o, out.toString(), err.toString(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    }

    /** bin/ep4j, beside the module folder the tests run in; pointed at this class path, it builds nothing. */
    ChildRun ep4j(String... args) throws Exception {
        Path script = Path.of(System.getProperty("basedir", "")).toAbsolutePath().resolveSibling("bin")
                .resolve("ep4j");
        assertTrue(java.nio.file.Files.isExecutable(script), script.toString());
        List<String> cmd = new ArrayList<>();
        cmd.add(script.toString());
        cmd.addAll(List.of(args));
        return ChildRun.of(dir, Map.of("JAVA_HOME", System.getProperty("java.home"), "EP4J_CLASSPATH",
                ChildRun.classPath()), cmd);
    }

    @Test
    void twoRanksMeetAtTheRendezvousThroughBinEp4j() throws Exception {
        ChildRun r = ep4j("launch", "-n", "2", "rendezvous-check", "--timeout", "20");
        assertEquals(0, r.code(), r.toString());
        List<String> lines = r.out().lines().sorted().toList();
        assertEquals(2, lines.size(), r.toString());
        Pattern line = Pattern.compile("\\[rank (\\d)] rank (\\d) of 2 \\(local rank (\\d)\\), job (ep4j-[0-9a-f]{16}):"
                + " met every rank \\(0: .* pid \\d+, 1: .* pid \\d+\\)");
        List<String> jobs = new ArrayList<>();
        for (int rank = 0; rank < 2; rank++) {
            Matcher m = line.matcher(lines.get(rank));
            assertTrue(m.matches(), lines.get(rank));
            assertEquals("" + rank, m.group(1));
            assertEquals("" + rank, m.group(2));
            assertEquals("" + rank, m.group(3));
            jobs.add(m.group(4));
        }
        assertEquals(jobs.get(0), jobs.get(1), "one job");
        assertFalse(r.err().contains("ep4j: error"), r.toString());
    }

    @Test
    void ranksThatFailMakeLaunchFailNamingTheRankThroughBinEp4j() throws Exception {
        Path missing = dir.resolve("no-such-case");
        ChildRun r = ep4j("launch", "-n", "2", "replay", "--in", missing.toString(), "--out",
                dir.resolve("out").toString(), "--backend", "cpu");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("[rank 0] ep4j: error: ") || r.err().contains("[rank 1] ep4j: error: "),
                r.toString());
        assertTrue(Pattern.compile("(?m)^ep4j: error: rank [01] exited with exit code 1").matcher(r.err()).find(),
                r.toString());
    }

    @Test
    void aRankThatExits3StopsTheOthers() throws Exception {
        Run r = launch(3, Duration.ofSeconds(10), "exit3");
        Launcher.Outcome o = r.outcome();
        assertFalse(o.ok(), r.toString());
        assertEquals(1, o.failed(), r.toString());
        assertEquals(3, o.exitCodes().get(1), r.toString());
        assertEquals(List.of(0, 2), o.stopped(), r.toString());
        assertEquals(List.of(), o.killed(), "SIGTERM sufficed");
        assertEquals(128 + 15, o.exitCodes().get(0), r.toString());
        assertEquals("rank 1 exited with exit code 3; stopped ranks [0, 2]", o.describe());
        assertTrue(r.millis() < 20_000, "not the 60 s the others sleep: " + r);
        assertTrue(r.err().contains("[rank 1] failing on purpose\n"), r.toString());
        for (int rank = 0; rank < 3; rank++) {
            assertTrue(Pattern.compile("(?m)^\\[rank " + rank + "] pid \\d+$").matcher(r.out()).find(), r.toString());
        }
    }

    @Test
    void aRankKilledByASignalIsNamedWithTheSignal() throws Exception {
        Run r = launch(2, Duration.ofSeconds(10), "sigkill");
        assertEquals(1, r.outcome().failed(), r.toString());
        assertEquals("rank 1 was killed by signal 9 (SIGKILL; exit code 137); stopped rank 0", r.outcome().describe());
        assertEquals("exited with exit code 3", Launcher.howItEnded(3));
        assertEquals("was killed by signal 15 (SIGTERM; exit code 143)", Launcher.howItEnded(143));
    }

    @Test
    void aRankThatIgnoresSigtermIsKilledAfterTheGracePeriod() throws Exception {
        Run r = launch(2, Duration.ofMillis(700), "stubborn", dir.resolve("ready").toString());
        Launcher.Outcome o = r.outcome();
        assertEquals(1, o.failed(), r.toString());
        assertEquals(List.of(0), o.stopped(), r.toString());
        assertEquals(List.of(0), o.killed(), r.toString());
        assertEquals(128 + 9, o.exitCodes().get(0), r.toString());
        assertTrue(o.describe().endsWith("stopped rank 0 (rank 0 only by SIGKILL)"), o.describe());
        assertTrue(r.millis() < 20_000, r.toString());
    }

    @Test
    void everyLineIsPrefixedAndEachRankGetsTheVariablesOfItsRank() throws Exception {
        Run partial = launch(2, Duration.ofSeconds(5), "partial");
        assertTrue(partial.outcome().ok(), partial.toString());
        assertTrue(partial.out().contains("[rank 0] no newline at the end\n"), partial.toString());
        assertTrue(partial.out().contains("[rank 1] no newline at the end\n"), partial.toString());
        assertEquals(List.of("[rank 0] to stderr", "[rank 1] to stderr"), partial.err().lines().sorted().toList());

        Run env = launch(2, Duration.ofSeconds(5), "env");
        assertTrue(env.outcome().ok(), env.toString());
        for (int rank = 0; rank < 2; rank++) {
            String p = "[rank " + rank + "] ";
            for (String expected : List.of("RANK=" + rank, "WORLD_SIZE=2", "LOCAL_RANK=" + rank, "LOCAL_WORLD_SIZE=2",
                    "MASTER_ADDR=127.0.0.1", "MASTER_PORT=29999", "EP4J_RANK=null", "EP4J_MASTER_PORT=null",
                    "EP4J_STDERR_TTY=0", "token length 6")) {
                assertTrue(env.out().lines().anyMatch((p + expected)::equals), p + expected + " in\n" + env);
            }
        }
    }

    @Test
    void ranksEndWhenTheLauncherIsKilled() throws Exception {
        Process launcher = new ProcessBuilder(ChildRun.java(), "-cp", ChildRun.classPath(),
                FakeLauncher.class.getName()).redirectErrorStream(true).start();
        List<Long> pids = new ArrayList<>();
        try {
            BufferedReader in = new BufferedReader(new InputStreamReader(launcher.getInputStream(),
                    StandardCharsets.UTF_8));
            Pattern pid = Pattern.compile("\\[rank \\d] pid (\\d+)");
            while (pids.size() < 2) {
                String line = in.readLine();
                if (line == null) {
                    fail("the launcher ended early; pids so far " + pids);
                }
                Matcher m = pid.matcher(line);
                if (m.matches()) {
                    pids.add(Long.parseLong(m.group(1)));
                }
            }
            launcher.destroyForcibly(); // SIGKILL: the launcher cannot stop its ranks itself
            for (long p : pids) {
                Optional<ProcessHandle> rank = ProcessHandle.of(p);
                if (rank.isPresent()) {
                    rank.get().onExit().get(15, TimeUnit.SECONDS);
                }
            }
        } finally {
            launcher.destroyForcibly();
            pids.forEach(p -> ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly));
        }
    }

    @Test
    void usageErrors() throws Exception {
        assertUsage("COMMAND = python: expected an ep4j command", "launch", "-n", "2", "python", "x.py");
        assertUsage("and not launch itself", "launch", "-n", "2", "launch", "-n", "2", "bench");
        assertUsage("-n must be 1 to 1024, not 0", "launch", "-n", "0", "bench");
        assertUsage("--grace must be", "launch", "-n", "1", "--grace", "0", "bench");
        assertUsage("Missing required", "launch", "bench");
    }

    static void assertUsage(String message, String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.run(new PrintStream(new ByteArrayOutputStream()), new PrintStream(err), args);
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(Main.EXIT_USAGE, code, text);
        assertTrue(text.contains(message), text);
    }

    @Test
    void everythingFromTheCommandOnGoesToTheRanks() {
        picocli.CommandLine cl = Main.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(
                new StringWriter()), false);
        cl.parseArgs("launch", "-n", "2", "bench", "--ranks", "2", "-n", "7", "--", "x");
        LaunchCommand launch = cl.getSubcommands().get("launch").getCommand();
        assertEquals(2, launch.ranks);
        assertEquals(List.of("bench", "--ranks", "2", "-n", "7", "--", "x"), launch.command);
        List<String> java = LaunchCommand.javaCommand(launch.command);
        assertEquals(Main.class.getName(), java.get(java.size() - 8));
        assertTrue(java.contains("--enable-native-access=ALL-UNNAMED"), java.toString());
    }
}
