package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import ep4j.cli.CliRun;
import ep4j.cli.json.Mapper;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchCommandTest {
    @TempDir
    Path dir;

    @Test
    void quickBenchOnCpuWritesTableJsonAndPlot() throws Exception {
        Path out = dir.resolve("bench");
        // --pipelined-calls: the CPU has no device clock, but the asynchronous path runs (and must work).
        CliRun run = CliRun.of("bench", "--quick", "--backend", "cpu", "--ranks", "2", "--iters", "2",
                "--pipelined-calls", "3", "--out", out.toString());
        assertEquals(0, run.code(), run.toString());

        // Table: header and one row per case, in order.
        List<String> lines = run.out().lines().toList();
        int header = -1;
        for (int i = 0; i < lines.size() && header < 0; i++) {
            if (lines.get(i).startsWith("case ")) {
                header = i;
            }
        }
        assertTrue(header >= 0, run.toString());
        for (String col : BenchReport.COLUMNS) {
            assertTrue(lines.get(header).contains(col), lines.get(header));
        }
        BenchCase[] cases = BenchCase.onCpu();
        for (int i = 0; i < cases.length; i++) {
            String row = lines.get(header + 2 + i);
            assertTrue(row.startsWith(cases[i].label() + " "), row);
            String[] cells = row.substring(cases[i].label().length()).trim().split("\\s+");
            assertEquals(BenchReport.COLUMNS.length - 1, cells.length, row);
            assertEquals("2", cells[0], row);
            assertEquals(cases[i].lowLatency() ? "16" : "128", cells[1], row);
            assertEquals("256", cells[2], row);
            // wall (median), p50, p99, max, gpu and host (none on the CPU), logical GB/s, cross GB/s,
            // baseline GB/s, ratio. The table rounds to two decimals, so a few kilobytes over a slow
            // call may print 0.00; the JSON below checks that the unrounded figures are positive.
            double median = Double.parseDouble(cells[3]);
            double p50 = Double.parseDouble(cells[4]);
            double p99 = Double.parseDouble(cells[5]);
            double max = Double.parseDouble(cells[6]);
            assertTrue(median > 0 && p50 > 0, row);
            assertTrue(p50 <= p99 && p99 <= max, row);
            assertEquals("-", cells[7], row);
            assertEquals("-", cells[8], row);
            for (int c = 9; c <= 12; c++) {
                assertTrue(Double.parseDouble(cells[c]) >= 0, row);
            }
        }
        assertTrue(run.out().contains("gpu: pipelined GPU time per call, on GPUs only (this backend has no device"
                + " clock); its 3 async calls per case ran to check that path"), run.out());
        assertTrue(run.out().contains("normal dispatch runs pipelined with numWorstTokens"), run.out());
        assertTrue(run.out().contains("host: wall - gpu"), run.out());

        // Hook mode: one row per low-latency case, wall clocks measured, no GPU spans.
        int hook = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("case ") && lines.get(i).contains(" send us ")) {
                hook = i;
            }
        }
        assertTrue(hook >= 0, run.out());
        assertEquals(List.of(BenchReport.HOOK_COLUMNS), List.of(lines.get(hook).split("\\s{2,}")), lines.get(hook));
        int llRow = 0;
        for (BenchCase c : cases) {
            if (!c.lowLatency()) {
                continue;
            }
            String row = lines.get(hook + 2 + llRow++);
            String[] cells = row.substring(c.label().length()).trim().split("\\s+");
            assertTrue(row.startsWith(c.label() + " "), row);
            assertEquals(List.of("16", "-", "-"), List.of(cells[0], cells[3], cells[6]), row);
            assertTrue(Double.parseDouble(cells[1]) > 0 && Double.parseDouble(cells[4]) > 0, row);
            assertTrue(Double.parseDouble(cells[1]) <= Double.parseDouble(cells[2]), row);
        }
        assertTrue(lines.get(hook + 2 + llRow).startsWith("send: wall clock of the call made with returnRecvHook"),
                run.out());
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
        assertEquals(3, file.pipelinedCalls());
        assertEquals(1, file.pipelinedSpans());
        assertTrue(file.pipelined().contains("numWorstTokens"), file.pipelined());
        assertTrue(file.hookMode().contains("returnRecvHook(true)"), file.hookMode());
        assertFalse(file.llSweep(), "no --ll-sweep on the CPU by default");
        assertEquals(cases.length, file.results().size());
        for (BenchFile.Row r : file.results()) {
            assertEquals(null, r.pipelinedUs(), "no device clock: null, " + r);
            assertEquals(null, r.hostUs(), r.toString());
            assertEquals(null, r.pipelinedLogicalGbps(), r.toString());
            assertTrue(r.pipelinedWallUs() > 0, "the async calls ran and were timed by the wall clock: " + r);
            assertTrue(r.pipelinedIssueUs() > 0 && r.pipelinedIssueUs() <= r.pipelinedWallUs(), r.toString());
            if (r.benchCase().startsWith("ll ")) {
                BenchFile.Hook h = r.hook();
                assertNotNull(h, r.toString());
                assertEquals(2, h.samples(), h.toString());
                assertTrue(h.sendUs() > 0 && h.sendUs() <= h.sendP99Us() && h.sendP99Us() <= h.sendMaxUs(), h.toString());
                assertTrue(h.receiveUs() > 0 && h.receiveUs() <= h.receiveP99Us(), h.toString());
                assertEquals(null, h.sendGpuUs(), h.toString());
                assertEquals(null, h.receiveGpuUs(), h.toString());
            } else {
                assertEquals(null, r.hook(), "hook mode is for low-latency cases: " + r);
            }
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
            assertEquals(null, r.hook(), "sweep rows carry no hook mode: " + r);
            assertTrue(r.pipelinedWallUs() > 0, r.toString());
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
        for (String key : List.of("pipelined_us", "host_us", "pipelined_logical_gbps", "pipelined_cross_gbps")) {
            assertTrue(written.get("results").get(0).get(key).isNull(), "\"" + key + "\": null without a device clock");
        }
        assertTrue(written.get("results").get(3).get("hook").get("send_gpu_us").isNull());

        PlotCommandTest.assertPng(out.resolve("bench.png"), 960, 600);
        PlotCommandTest.assertPng(out.resolve("bench-ll.png"), 960, 600);
        assertTrue(run.out().contains("wrote " + out.resolve("bench-ll.png")), run.out());
    }

    @Test
    void llSweepRunsThePowersOfTwoAndBufferSizesAboveTheTableSize() throws Exception {
        // On the CPU --ll-sweep stops at --ll-tokens (4 here); 8 lies above it and gets its own buffer.
        Path out = dir.resolve("ll");
        CliRun run = CliRun.of("bench", "--quick", "--backend", "cpu", "--ranks", "2", "--iters", "1", "--warmup", "0",
                "--sweep-tokens", "32", "--ll-tokens", "4", "--ll-sweep", "--out", out.toString());
        assertEquals(0, run.code(), run.toString());
        BenchFile file = BenchFile.read(out.resolve("bench.json"));
        assertTrue(file.llSweep());
        assertArrayEquals(new int[] {1, 2, 4}, file.llSweepTokens());
        assertEquals(0, file.pipelinedCalls(), "no pipelined run on the CPU by default");
        for (BenchCase c : List.of(BenchCase.LL_DISPATCH_BF16, BenchCase.LL_DISPATCH_FP8, BenchCase.LL_COMBINE_BF16)) {
            assertEquals(List.of(1, 2, 4), file.sweepOf(c).stream().map(BenchFile.Row::tokens).toList(), c.label());
        }
        for (BenchFile.Row r : file.sweep()) {
            assertEquals(null, r.pipelinedWallUs(), "no pipelined run: " + r);
        }
        assertTrue(run.out().contains("gpu: pipelined GPU time per call, on GPUs only (this backend has no device"
                + " clock)\n"), run.out());

        CliRun above = CliRun.of("bench", "--quick", "--backend", "cpu", "--ranks", "2", "--iters", "1", "--warmup",
                "0", "--sweep-tokens", "32", "--ll-tokens", "4", "--ll-sweep-tokens", "2,8", "--out",
                dir.resolve("above").toString());
        assertEquals(0, above.code(), above.toString());
        BenchFile a = BenchFile.read(dir.resolve("above").resolve("bench.json"));
        assertArrayEquals(new int[] {2, 4, 8}, a.llSweepTokens());
        assertEquals(4, a.results().stream().filter(r -> r.benchCase().startsWith("ll ")).findFirst().orElseThrow()
                .tokens());
        assertEquals(List.of(2, 4, 8), a.sweepOf(BenchCase.LL_COMBINE_BF16).stream().map(BenchFile.Row::tokens)
                .toList());
    }

    @Test
    void badPipelineAndSweepOptionsAreNamed() {
        CliRun negative = CliRun.of("bench", "--quick", "--backend", "cpu", "--pipelined-calls", "-1");
        assertEquals(2, negative.code(), negative.toString());
        assertTrue(negative.err().contains("--pipelined-calls must be >= 0, not -1"), negative.toString());
        CliRun both = CliRun.of("bench", "--quick", "--backend", "cpu", "--ll-sweep", "--ll-sweep-tokens", "2,4");
        assertEquals(2, both.code(), both.toString());
        assertTrue(both.err().contains("--ll-sweep and --ll-sweep-tokens both given"), both.toString());
    }

    @Test
    void powersOfTwoEndAtTheirBound() {
        assertArrayEquals(new int[] {1, 2, 4, 8, 16, 32, 64, 128, 256}, BenchCommand.powersOfTwo(256));
        assertArrayEquals(new int[] {1, 2, 4, 6}, BenchCommand.powersOfTwo(6));
        assertArrayEquals(new int[] {1}, BenchCommand.powersOfTwo(1));
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
