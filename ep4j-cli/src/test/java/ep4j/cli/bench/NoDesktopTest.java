package ep4j.cli.bench;

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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bench in a Java runtime without java.desktop, as the trimmed runtime of the GPU machines
 * is (../shared/device/prepare links java.base, jdk.unsupported, java.management and
 * java.logging; no jdk.management either): a child JVM limited to those modules writes
 * bench.json and a note instead of the PNGs, and ep4j plot then draws them from that file here.
 */
class NoDesktopTest {
    static final String DEVICE_MODULES = "java.base,jdk.unsupported,java.management,java.logging";

    @TempDir
    Path dir;

    ChildRun trimmed(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ChildRun.java(), "--limit-modules", DEVICE_MODULES,
                "--enable-native-access=ALL-UNNAMED", "-cp", ChildRun.classPath(), "ep4j.cli.Main"));
        cmd.addAll(List.of(args));
        return ChildRun.of(dir, Map.of(), cmd);
    }

    @Test
    void benchWritesJsonAndANoteThenPlotDrawsElsewhere() throws Exception {
        Path out = dir.resolve("b");
        // Not --quick, so the CPU sizing runs too: it reads the machine's memory without jdk.management.
        ChildRun bench = trimmed("bench", "--backend", "cpu", "--ranks", "2", "--hidden", "256", "--topk", "4",
                "--experts", "16", "--iters", "1", "--warmup", "0", "--sweep-tokens", "32", "--ll-sweep-tokens", "4",
                "--out", out.toString());
        assertEquals(0, bench.code(), bench.toString());
        assertTrue(bench.out().contains("ep4j bench: CPU backend: 4096 tokens per rank"), bench.toString());
        assertFalse(bench.out().contains("this machine's memory (unknown)"), bench.toString());
        assertTrue(bench.out().contains("wrote " + out.resolve("bench.json")), bench.toString());
        assertTrue(bench.out().contains("note: no PNG written: the Java runtime at "), bench.toString());
        assertTrue(bench.out().contains("has no java.desktop module"), bench.toString());
        assertTrue(bench.out().contains("`ep4j plot --in " + out + "`"), bench.toString());
        assertFalse(Files.exists(out.resolve("bench.png")));

        ChildRun plotThere = trimmed("plot", "--in", out.toString());
        assertEquals(1, plotThere.code(), plotThere.toString());
        assertTrue(plotThere.err().startsWith("ep4j: error: ep4j plot cannot draw here: "), plotThere.toString());
        assertEquals(1, plotThere.err().strip().lines().count(), plotThere.toString());

        CliRun plotHere = CliRun.of("plot", "--in", out.toString());
        assertEquals(0, plotHere.code(), plotHere.toString());
        PlotCommandTest.assertPng(out.resolve("bench.png"), 960, 600);
    }
}
