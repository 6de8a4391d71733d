package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import ep4j.cli.CliRun;
import ep4j.cli.json.Mapper;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchCommandTest {
    @TempDir
    Path dir;

    @Test
    void quickBenchOnCpuWritesTableJsonAndPlot() throws Exception {
        Path out = dir.resolve("bench");
        CliRun run = CliRun.of("bench", "--quick", "--backend", "cpu", "--ranks", "2", "--iters", "2",
                "--out", out.toString());
        assertEquals(0, run.code(), run.toString());

        // Table: header and one row per case, in order.
        List<String> lines = run.out().lines().toList();
        int header = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("case ")) {
                header = i;
            }
        }
        assertTrue(header >= 0, run.toString());
        for (String col : BenchReport.COLUMNS) {
            assertTrue(lines.get(header).contains(col), lines.get(header));
        }
        BenchCase[] cases = BenchCase.values();
        for (int i = 0; i < cases.length; i++) {
            String row = lines.get(header + 2 + i);
            assertTrue(row.startsWith(cases[i].label() + " "), row);
            String[] cells = row.substring(cases[i].label().length()).trim().split("\\s+");
            assertEquals(BenchReport.COLUMNS.length - 1, cells.length, row);
            assertEquals("2", cells[0], row);
            assertEquals(cases[i].lowLatency() ? "16" : "128", cells[1], row);
            assertEquals("256", cells[2], row);
            // time (median), p50, p99, max, gpu (none on the CPU), logical GB/s, cross GB/s, baseline
            // GB/s, ratio. The table rounds to two decimals, so a few kilobytes over a slow call may
            // print 0.00; the JSON below checks that the unrounded figures are positive.
            double median = Double.parseDouble(cells[3]);
            double p50 = Double.parseDouble(cells[4]);
            double p99 = Double.parseDouble(cells[5]);
            double max = Double.parseDouble(cells[6]);
            assertTrue(median > 0 && p50 > 0, row);
            assertTrue(p50 <= p99 && p99 <= max, row);
            assertEquals("-", cells[7], row);
            for (int c = 8; c <= 11; c++) {
                assertTrue(Double.parseDouble(cells[c]) >= 0, row);
            }
        }
        // Not a terminal: no progress frames.
        assertFalse(run.err().contains("\r"), run.toString());

        BenchFile file = BenchFile.read(out.resolve("bench.json"));
        assertEquals("cpu", file.backend());
        assertEquals(2, file.ranks());
        assertEquals(128, file.tokens());
        assertEquals(256, file.hidden());
        assertEquals(4, file.topk());
        assertEquals(16, file.experts());
        assertEquals(16, file.llTokens());
        assertEquals("host copy", file.baseline());
        assertEquals(cases.length, file.results().size());
        for (BenchFile.Row r : file.results()) {
            assertEquals(2, r.samples(), r.toString());
            assertTrue(r.timeUs() > 0, r.toString());
            assertTrue(r.bytesPerRank() > 0, r.toString());
            assertTrue(r.ratio() > 0, r.toString());
            assertTrue(r.logicalGbps() > 0, r.toString());
            assertEquals(null, r.gpuUs(), "no GPU time on the CPU: null in the file, " + r);
            assertTrue(r.minUs() <= r.p50Us() && r.p50Us() <= r.p99Us() && r.p99Us() <= r.maxUs(), r.toString());
            assertTrue(r.minUs() <= r.timeUs() && r.timeUs() <= r.maxUs(), r.toString());
        }
        // Sweep: 16, 32, 64, 128 normal tokens and 2, 4, 8, 16 low-latency tokens, every case.
        assertEquals(4 * 6, file.sweep().size());
        Set<String> seen = new HashSet<>();
        for (BenchFile.Row r : file.sweep()) {
            seen.add(r.benchCase() + "@" + r.tokens());
            assertEquals(null, r.baseline(), "sweep rows carry no baseline: " + r);
        }
        assertTrue(seen.contains("dispatch bf16@16") && seen.contains("combine bf16@128"), seen.toString());
        assertTrue(seen.contains("ll dispatch fp8@2") && seen.contains("ll combine bf16@16"), seen.toString());

        // The file holds every name the published bench.json files have (ep4j plot and readers rely on them).
        JsonNode written = Mapper.get().readTree(out.resolve("bench.json").toFile());
        JsonNode published = Mapper.get().readTree(PlotCommandTest.publishedBenchJson().toFile());
        for (String key : names(published)) {
            if (!key.equals("sms_sweep")) {
                assertTrue(written.has(key), "bench.json lacks \"" + key + "\"");
            }
        }
        Set<String> resultNames = names(written.get("results").get(0));
        Set<String> sweepNames = names(written.get("sweep").get(0));
        assertTrue(resultNames.containsAll(names(published.get("results").get(0))), resultNames.toString());
        assertTrue(sweepNames.containsAll(names(published.get("sweep").get(0))), sweepNames.toString());
        assertTrue(resultNames.containsAll(List.of("p50_us", "p99_us", "max_us")), resultNames.toString());
        assertTrue(sweepNames.containsAll(List.of("p50_us", "p99_us", "max_us")), sweepNames.toString());
        assertTrue(written.get("results").get(0).get("gpu_us").isNull());

        BufferedImage png = ImageIO.read(out.resolve("bench.png").toFile());
        assertNotNull(png);
        assertEquals(960, png.getWidth());
        assertEquals(600, png.getHeight());
    }

    static Set<String> names(JsonNode object) {
        Set<String> names = new java.util.TreeSet<>();
        object.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void theCpuDefaultsAreSizedToTheMachineAndSaySo() throws Exception {
        Path out = dir.resolve("sized");
        CliRun run = CliRun.of("bench", "--backend", "cpu", "--ranks", "2", "--hidden", "256", "--topk", "4",
                "--experts", "16", "--iters", "1", "--warmup", "0", "--sweep-tokens", "64", "--ll-sweep-tokens", "4",
                "--out", out.toString());
        assertEquals(0, run.code(), run.toString());
        String first = run.out().lines().findFirst().orElse("");
        assertTrue(first.startsWith("ep4j bench: CPU backend: 4096 tokens per rank, low-latency 128, about "), first);
        assertTrue(first.contains("GB of memory at most (budget "), first);
        BenchFile file = BenchFile.read(out.resolve("bench.json"));
        assertEquals(4096, file.tokens());
        assertEquals(128, file.llTokens());
        assertTrue(file.notes().get(0).startsWith("CPU backend: 4096 tokens per rank"), file.notes().toString());

        CliRun given = CliRun.of("bench", "--backend", "cpu", "--ranks", "2", "--hidden", "256", "--topk", "4",
                "--experts", "16", "--tokens", "32", "--ll-tokens", "4", "--iters", "1", "--warmup", "0",
                "--out", dir.resolve("given").toString());
        assertEquals(0, given.code(), given.toString());
        assertFalse(given.out().contains("CPU backend:"), "sizes given: nothing chosen, nothing said\n" + given);
    }

    @Test
    void forcedProgressDrawsOnStderr() {
        CliRun run = CliRun.of("bench", "--quick", "--backend", "cpu", "--ranks", "2", "--iters", "1", "--warmup", "0",
                "--sweep-tokens", "32", "--ll-sweep-tokens", "4", "--progress", "--out", dir.resolve("p").toString());
        assertEquals(0, run.code(), run.toString());
        assertTrue(run.err().contains("\r"), run.toString());
        assertTrue(run.err().contains("100%"), run.toString());
    }
}
