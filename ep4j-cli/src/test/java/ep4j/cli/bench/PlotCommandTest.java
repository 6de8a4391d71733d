package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.CliRun;
import ep4j.cli.plot.Chart;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlotCommandTest {
    @TempDir
    Path dir;

    /** The project's docs/bench folder, found from the module folder the tests run in. */
    static Path docsBench() {
        Path p = Path.of("").toAbsolutePath().resolveSibling("docs").resolve("bench");
        assertTrue(Files.isDirectory(p), "docs/bench not found at " + p);
        return p;
    }

    /** A bench.json measured on GPUs and committed under docs/bench (with an SM sweep). */
    static Path publishedBenchJson() {
        return docsBench().resolve("h200x4").resolve("bench.json");
    }

    static void assertPng(Path png, int width, int height) throws IOException {
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, png + " is not a PNG");
        assertEquals(width, img.getWidth());
        assertEquals(height, img.getHeight());
    }

    @Test
    void everyPublishedBenchJsonLoadsAndPlots() throws IOException {
        List<Path> published;
        try (Stream<Path> s = Files.walk(docsBench())) {
            published = s.filter(p -> p.getFileName().toString().equals("bench.json")).sorted().toList();
        }
        assertTrue(published.contains(publishedBenchJson()), published.toString());
        for (Path json : published) {
            Path in = dir.resolve(json.getParent().getFileName());
            Files.createDirectories(in);
            Files.copy(json, in.resolve("bench.json"));
            CliRun run = CliRun.of("plot", "--in", in.toString());
            assertEquals(0, run.code(), json + ": " + run);
            assertPng(in.resolve("bench.png"), 960, 600);
            assertPng(in.resolve("bench-sms.png"), 960, 600);
            assertTrue(run.out().contains("wrote " + in.resolve("bench-sms.png")), run.toString());
            // Older files have low-latency sweep rows without GPU times: their wall clocks are drawn.
            assertPng(in.resolve("bench-ll.png"), 960, 600);
            assertTrue(run.out().contains("wrote " + in.resolve("bench-ll.png")), run.toString());

            BenchFile f = BenchFile.read(json);
            assertEquals("cuda", f.backend());
            assertEquals(4096, f.tokens());
            assertEquals(7168, f.hidden());
            assertFalse(f.sweepOf(BenchCase.DISPATCH_BF16).isEmpty());
            assertFalse(f.smsSweep().isEmpty());
            assertTrue(f.smsSweep().get(0).dispatchBf16Gbps() > 0, f.smsSweep().get(0).toString());
        }
    }

    static String row(String benchCase, int tokens, double timeUs, String pipelinedUs) {
        return "{\"case\": \"" + benchCase + "\", \"tokens\": " + tokens + ", \"time_us\": " + timeUs
                + (pipelinedUs == null ? "" : ", \"pipelined_us\": " + pipelinedUs) + "}";
    }

    static BenchFile file(Path dir, String... rows) throws IOException {
        Files.writeString(dir.resolve("bench.json"), "{\"backend\": \"cuda\", \"ranks\": 2, \"tokens\": 64,"
                + " \"hidden\": 128, \"topk\": 2, \"experts\": 4, \"sweep\": [" + String.join(", ", rows) + "]}");
        return BenchFile.read(dir.resolve("bench.json"));
    }

    @Test
    void theLowLatencyPlotPairsGpuTimeAndWallClockPerCase() throws IOException {
        BenchFile f = file(dir, row("dispatch bf16", 64, 300, "200"), row("ll dispatch fp8", 1, 40, "10"),
                row("ll dispatch fp8", 2, 42, "11"), row("ll combine bf16", 1, 50, null), row("ll combine bf16", 2, 55,
                        "null"), row("ll dispatch bf16", 1, 45, "12"), row("ll dispatch bf16", 2, 47, "13.5"));
        Chart c = BenchReport.llPlot(f);
        assertTrue(c.logX() && c.logY());
        List<String> names = c.series().stream().map(Chart.Series::name).toList();
        assertEquals(List.of("ll dispatch bf16 gpu", "ll dispatch bf16 wall", "ll dispatch fp8 gpu",
                "ll dispatch fp8 wall", "ll combine bf16 wall"), names, "cases in table order; no GPU line without GPU times");
        Chart.Series gpu = c.series().get(0);
        Chart.Series wall = c.series().get(1);
        assertArrayEquals(new double[] {1, 2}, gpu.x());
        assertArrayEquals(new double[] {12, 13.5}, gpu.y());
        assertArrayEquals(new double[] {45, 47}, wall.y());
        assertEquals(gpu.colour(), wall.colour(), "one colour per case");
        assertFalse(gpu.dashed());
        assertTrue(wall.dashed());
        assertEquals(List.of(0, 0, 1, 1, 2), c.series().stream().map(Chart.Series::colour).toList());

        CliRun run = CliRun.of("plot", "--in", dir.toString());
        assertEquals(0, run.code(), run.toString());
        assertPng(dir.resolve("bench-ll.png"), 960, 600);
        assertFalse(Files.exists(dir.resolve("bench-sms.png")), "no SM sweep in this file");
        assertEquals(List.of("wrote " + dir.resolve("bench.png"), "wrote " + dir.resolve("bench-ll.png")),
                run.out().lines().toList());

        Path normalOnly = Files.createDirectories(dir.resolve("normal"));
        assertNull(BenchReport.llPlot(file(normalOnly, row("combine bf16", 64, 300, null))));
        CliRun none = CliRun.of("plot", "--in", normalOnly.toString());
        assertEquals(0, none.code(), none.toString());
        assertFalse(Files.exists(normalOnly.resolve("bench-ll.png")), "nothing to draw, no file");
    }

    @Test
    void unusableInputsAreNamed() throws IOException {
        CliRun noDir = CliRun.of("plot", "--in", dir.resolve("none").toString());
        assertEquals(1, noDir.code(), noDir.toString());
        assertEquals("ep4j: error: --in " + dir.resolve("none") + ": no such folder (expected the --out folder of ep4j bench)",
                noDir.err().strip());

        CliRun noFile = CliRun.of("plot", "--in", dir.toString());
        assertEquals(1, noFile.code(), noFile.toString());
        assertTrue(noFile.err().contains(dir.resolve("bench.json") + ": not found"), noFile.toString());

        Files.writeString(dir.resolve("bench.json"), "{\"backend\": \"cpu\",\n \"ranks\": 2 \"tokens\": 4}");
        CliRun syntax = CliRun.of("plot", "--in", dir.toString());
        assertEquals(1, syntax.code(), syntax.toString());
        assertTrue(syntax.err().startsWith("ep4j: error: " + dir.resolve("bench.json") + ": invalid JSON at line 2, column "),
                syntax.toString());
        assertEquals(1, syntax.err().strip().lines().count(), syntax.toString());

        Files.writeString(dir.resolve("bench.json"),
                "{\"backend\": \"cpu\", \"ranks\": 2, \"tokens\": 4, \"hidden\": 128, \"topk\": 2, \"experts\": 4}");
        CliRun noSweep = CliRun.of("plot", "--in", dir.toString());
        assertEquals(1, noSweep.code(), noSweep.toString());
        assertTrue(noSweep.err().contains("'sweep'"), noSweep.toString());

        Files.writeString(dir.resolve("bench.json"), "{\"backend\": \"cpu\", \"ranks\": 2, \"tokens\": 4, \"hidden\": 128,"
                + " \"topk\": 2, \"experts\": 4, \"sweep\": [{\"case\": \"combine bf16\", \"tokens\": \"many\", \"time_us\": 3}]}");
        CliRun badRow = CliRun.of("plot", "--in", dir.toString());
        assertEquals(1, badRow.code(), badRow.toString());
        assertTrue(badRow.err().contains("\"sweep[0].tokens\""), badRow.toString());
        assertTrue(badRow.err().contains("many"), badRow.toString());
        assertFalse(Files.exists(dir.resolve("bench.png")));
    }
}
