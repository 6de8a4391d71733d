package ep4j.cli.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.ChildRun;
import ep4j.cli.CliRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ep4j soak} on the CPU backend: a short run through the real launcher (which turns on
 * native memory tracking) passes with flat memory; an injected mismatch and an injected leak
 * each fail the run with one line that says what and where; a mismatch's seed reproduces its step.
 */
class SoakCommandTest {
    private static final Pattern STEPS = Pattern.compile("(?m)^steps: (\\d+) in [0-9.]+ min, mismatches: 0$");

    @TempDir
    Path dir;

    /** Runs bin/ep4j in a child JVM, as a user does (see LauncherTest). */
    private ChildRun launch(String... args) throws Exception {
        Path script = Path.of("").toAbsolutePath().resolveSibling("bin").resolve("ep4j");
        assertTrue(Files.isExecutable(script), "bin/ep4j at " + script);
        List<String> cmd = new ArrayList<>(List.of(script.toString()));
        cmd.addAll(List.of(args));
        return ChildRun.of(dir, Map.of("JAVA_HOME", System.getProperty("java.home"), "EP4J_CLASSPATH",
                ChildRun.classPath()), cmd);
    }

    @Test
    void aShortCpuSoakPassesWithFlatMemory() throws Exception {
        ChildRun r = launch("soak", "--minutes", "0.05", "--backend", "cpu", "--ranks", "2", "--seed", "5");
        assertEquals(0, r.code(), r.toString());
        assertEquals("", r.err(), "no progress bar when stderr is not a terminal, no error: " + r);
        String out = r.out();
        assertTrue(out.startsWith("ep4j soak: backend cpu against a second group of the cpu backend (the reference),"
                + " 2 ranks, seed 5, for 0.05 min\n"), out);
        assertTrue(out.contains("\nnote: the cpu backend against itself finds nondeterminism"), out);
        assertTrue(out.matches("(?s).*\nmemory at start: native [0-9.]+ KiB \\(NMT Other.*"), "native memory tracked: " + out);
        Matcher m = STEPS.matcher(out);
        assertTrue(m.find(), out);
        assertTrue(Long.parseLong(m.group(1)) >= 10, "a few seconds run many steps: " + out);
        assertTrue(out.contains("\nmodes: ") && out.contains("low-latency") && out.contains("normal"), out);
        assertTrue(out.contains("(change: native +0 B, resident "), "memory flat: " + out);
        assertTrue(out.strip().endsWith("ep4j soak: passed (" + m.group(1) + " steps bit-identical to the cpu reference,"
                + " native memory flat)"), out);
    }

    @Test
    void anInjectedMismatchFailsTheRunNamingTheStepTheCaseAndTheOutput() {
        CliRun r = CliRun.of("soak", "--steps", "6", "--backend", "cpu", "--ranks", "2", "--seed", "40",
                "--inject-mismatch-at", "4");
        assertEquals(1, r.code(), r.toString());
        List<String> err = r.err().strip().lines().toList();
        assertEquals(1, err.size(), r.toString());
        String line = err.get(0);
        assertTrue(line.startsWith("ep4j: error: 1 mismatch in 6 steps; the first: mismatch at step 4 (case seed 44: "),
                line);
        SoakCase c = SoakCase.draw(44, 2);
        assertTrue(line.contains("(case " + c.describe() + "): rank 0, "), "the case in full: " + line);
        assertTrue(line.matches(".*: rank 0, [A-Za-z -]+ \\w+\\[[0-9, ]+\\]: first difference at element \\[[0-9, ]+\\]: cpu \\S+"
                + ".*, the cpu reference \\S+.*"), "the output, the element and both values: " + line);
        assertTrue(line.endsWith("reproduce with: ep4j soak --backend cpu --ranks 2 --seed 44 --steps 1 (the run up to it:"
                + " --seed 40 --steps 5)"), line);
        assertFalse(r.err().contains("\tat "), r.toString());
        assertTrue(r.out().contains("\nmismatch at step 4 (case seed 44"), "printed as it happens: " + r);
        assertTrue(r.out().contains("\nsteps: 6 in ") && r.out().contains("mismatches: 1"), r.toString());

        // The printed seed runs the same case again, and without the hook it passes.
        CliRun again = CliRun.of("soak", "--backend", "cpu", "--ranks", "2", "--seed", "44", "--steps", "1");
        assertEquals(0, again.code(), again.toString());
        assertTrue(again.out().contains("steps: 1 in ") && again.out().contains("\nmodes: " + c.mode() + " 1\n"),
                again.toString());
    }

    @Test
    void anInjectedLeakFailsTheRun() throws Exception {
        ChildRun r = launch("soak", "--steps", "5", "--backend", "cpu", "--ranks", "2", "--seed", "9",
                "--inject-leak-at", "2");
        assertEquals(1, r.code(), r.toString());
        List<String> err = r.err().strip().lines().toList();
        assertEquals(1, err.size(), r.toString());
        assertTrue(err.get(0).startsWith("ep4j: error: native memory leak: 4.0 MiB more in use after the run than before"
                + " it ("), r.toString());
        assertTrue(err.get(0).endsWith("with every buffer, result and tensor closed; expected at most 1.0 MiB more"),
                r.toString());
        assertTrue(r.out().contains("mismatches: 0"), r.toString());
    }

    @Test
    void aJobOfTwoProcessesSoaksEachRankAgainstItsOwnReference() throws Exception {
        // No --job and no --seed: the launcher's variables make it a job, and every rank runs rank 0's seed.
        ChildRun r = launch("launch", "-n", "2", "--", "soak", "--backend", "cpu", "--steps", "24");
        assertEquals(0, r.code(), r.toString());
        Matcher seed0 = Pattern.compile("\\[rank 0] ep4j soak: .*, seed (\\d+), ").matcher(r.out());
        assertTrue(seed0.find(), r.toString());
        for (int rank = 0; rank < 2; rank++) {
            String prefix = "[rank " + rank + "] ";
            assertTrue(r.out().contains(prefix + "ep4j soak: backend cpu against a second group of the cpu backend (the"
                    + " reference), 2 ranks (this process: rank " + rank + ", one process per rank), seed "
                    + seed0.group(1) + ", at most 24 steps\n"), r.toString());
            assertTrue(r.out().contains(prefix + "steps: 24 in "), r.toString());
            assertTrue(r.out().contains(prefix + "ep4j soak: passed (24 steps bit-identical to the cpu reference"),
                    r.toString());
        }

        // A mismatch on one rank fails that process, and launch names it.
        ChildRun bad = launch("launch", "-n", "2", "--", "soak", "--job", "--backend", "cpu", "--steps", "4", "--seed",
                "21", "--inject-mismatch-at", "1");
        assertEquals(1, bad.code(), bad.toString());
        assertTrue(bad.err().contains("mismatch at step 1 (case seed 22: "), bad.toString());
        assertTrue(bad.err().contains("reproduce with: ep4j launch -n 2 -- soak --backend cpu --seed 22 --steps 1"),
                bad.toString());
        assertTrue(bad.err().matches("(?s).*ep4j: error: rank \\d exited with exit code 1.*"), bad.toString());
    }

    @Test
    void jobOptionsAreCheckedBeforeAnythingStarts() {
        CliRun minutes = CliRun.of("soak", "--job", "--minutes", "1", "--seed", "1");
        assertEquals(2, minutes.code(), minutes.toString());
        assertTrue(minutes.err().contains("--minutes is not for a job (--job): give --steps N (default 200)"),
                minutes.toString());
        CliRun ranks = CliRun.of("soak", "--job", "--steps", "3", "--seed", "1", "--ranks", "2");
        assertEquals(2, ranks.code(), ranks.toString());
        assertTrue(ranks.err().contains("--ranks is not given in a job (--job)"), ranks.toString());
        // --job where no launcher set anything: the variable that is missing, and what would set it.
        CliRun alone = CliRun.of("soak", "--job", "--steps", "3");
        assertEquals(1, alone.code(), alone.toString());
        assertTrue(alone.err().startsWith("ep4j: error: RANK = (unset): expected the variables of a launcher"),
                alone.toString());
        assertTrue(alone.err().contains("was this process started by torchrun, srun, mpirun or ep4j launch?"),
                alone.toString());
    }

    @Test
    void badOptionsAreUsageErrors() {
        CliRun zero = CliRun.of("soak", "--minutes", "0");
        assertEquals(2, zero.code(), zero.toString());
        assertTrue(zero.err().contains("--minutes must be > 0"), zero.toString());
        CliRun backend = CliRun.of("soak", "--backend", "gpu");
        assertEquals(2, backend.code(), backend.toString());
        assertTrue(backend.err().contains("--backend must be auto, cpu or cuda, not 'gpu'"), backend.toString());
        CliRun steps = CliRun.of("soak", "--steps", "-3");
        assertEquals(2, steps.code(), steps.toString());
        CliRun help = CliRun.of("soak", "--help");
        assertEquals(0, help.code(), help.toString());
        String text = help.out().replaceAll("\\s+", " ");
        assertTrue(text.contains("second, independently run CPU group") && text.contains("--seed=SEED"), help.toString());
        assertFalse(help.out().contains("--inject"), "test hooks stay hidden: " + help);
    }
}
