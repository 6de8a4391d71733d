package ep4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    @TempDir
    Path dir;

    @Test
    void versionAndHelp() {
        CliRun v = CliRun.of("--version");
        assertEquals(0, v.code(), v.toString());
        assertTrue(v.out().matches("(?s)ep4j \\d+\\.\\d+\\.\\d+.*Java .*"), v.toString());
        CliRun h = CliRun.of("--help");
        assertEquals(0, h.code(), h.toString());
        assertTrue(h.out().contains("bench") && h.out().contains("replay") && h.out().contains("soak"), h.toString());
        CliRun bh = CliRun.of("bench", "--help");
        assertEquals(0, bh.code(), bh.toString());
        assertTrue(bh.out().contains("--sweep-tokens"), bh.toString());
    }

    @Test
    void usageErrorsExitWithTwo() {
        assertEquals(2, CliRun.of().code());
        CliRun unknown = CliRun.of("bench", "--no-such-option");
        assertEquals(2, unknown.code(), unknown.toString());
        assertTrue(unknown.err().contains("--no-such-option"), unknown.toString());
        CliRun notANumber = CliRun.of("bench", "--tokens", "many");
        assertEquals(2, notANumber.code(), notANumber.toString());
        CliRun indivisible = CliRun.of("bench", "--quick", "--backend", "cpu", "--ranks", "3", "--out", dir.toString());
        assertEquals(2, indivisible.code(), indivisible.toString());
        assertTrue(indivisible.err().contains("--experts (16) must be a multiple of --ranks (3)"), indivisible.toString());
        CliRun missing = CliRun.of("replay", "--in", dir.toString());
        assertEquals(2, missing.code(), missing.toString());
        assertTrue(missing.err().contains("--out"), missing.toString());
    }

    @Test
    void failuresExitWithOneAndOneLine() {
        CliRun r = CliRun.of("replay", "--in", dir.toString(), "--out", dir.resolve("o").toString(), "--backend", "cpu");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().startsWith("ep4j: error: "), r.toString());
        assertTrue(r.err().contains("meta.json: not found"), r.toString());
        assertEquals(1, r.err().strip().lines().count(), r.toString());
        assertFalse(r.err().contains("\tat "), r.toString());

        CliRun verbose = CliRun.of("replay", "--verbose", "--in", dir.toString(), "--out", dir.resolve("o").toString());
        assertEquals(1, verbose.code(), verbose.toString());
        assertTrue(verbose.err().contains("\tat "), verbose.toString());
    }

    @Test
    void oneLineJoinsCauses() {
        Exception e = new RuntimeException("a rank task failed", new IllegalStateException("rank 1:\nboom"));
        assertEquals("a rank task failed: rank 1: boom", Main.oneLine(e));
    }
}
