package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.ChildRun;
import ep4j.cli.CliRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ep4j bench} as one rank per process under {@code ep4j launch}: rank 0 reports, for every rank. */
class BenchJobTest {
    @TempDir
    Path dir;

    @Test
    void launchOfTwoRanksBenchesEveryCaseAndOnlyRankZeroReports() throws Exception {
        Set<String> shmBefore = shmFiles();
        ChildRun r = launch("launch", "-n", "2", "--", "bench", "--backend", "cpu", "--quick", "--iters", "2",
                "--pipelined-calls", "2");
        assertEquals(0, r.code(), r.toString());
        List<String> one = r.out().lines().filter(l -> l.startsWith("[rank 1] ")).toList();
        assertEquals(List.of("[rank 1] ep4j bench: rank 1 of 2 measured (one process per rank); rank 0 prints the"
                + " table and writes out/bench/bench.json"), one, "rank 1 says one line: " + r);
        List<String> zero = r.out().lines().filter(l -> l.startsWith("[rank 0] "))
                .map(l -> l.substring("[rank 0] ".length())).toList();
        assertTrue(zero.get(0).startsWith("ep4j bench: backend cpu, 2 ranks (2 processes, one rank each, on one host,"
                + " meeting at a spinning barrier in shared memory), 128 tokens (low-latency 16)"), r.toString());
        int header = zero.indexOf(zero.stream().filter(l -> l.startsWith("case ")).findFirst().orElseThrow());
        for (int i = 0; i < BenchCase.onCpu().length; i++) {
            BenchCase c = BenchCase.onCpu()[i];
            String row = zero.get(header + 2 + i);
            assertTrue(row.startsWith(c.label() + " "), row);
            String[] cells = row.substring(c.label().length()).trim().split("\\s+");
            assertEquals("2", cells[0], row);
            assertTrue(Double.parseDouble(cells[3]) > 0, "wall: " + row);
        }
        assertTrue(zero.contains("note: one process per rank on one host: the ranks meet at a spinning barrier in"
                + " shared memory (/dev/shm); a wall clock runs from the last rank's arrival at one barrier to the"
                + " last arrival at the next, as System.nanoTime (CLOCK_MONOTONIC, one clock for every process of a"
                + " host) reads them"), r.toString());
        assertTrue(zero.contains("wrote out/bench/bench.json"), r.toString());
        assertEquals(1, r.out().split("wrote out/bench/bench.json", -1).length - 1, "one bench.json: " + r);

        BenchFile file = BenchFile.read(dir.resolve("out/bench/bench.json"));
        assertEquals(2, file.ranks());
        assertEquals(2, file.processes());
        assertEquals("host copy", file.baseline());
        assertEquals(BenchCase.onCpu().length, file.results().size());
        for (BenchFile.Row row : file.results()) {
            assertEquals(2, row.samples(), row.toString());
            assertTrue(row.timeUs() > 0 && row.minUs() > 0, row.toString());
            assertTrue(row.baselineUs() > 0 && row.ratio() > 0, "the host copy ran across processes: " + row);
            assertTrue(row.pipelinedWallUs() > 0 && row.pipelinedIssueUs() > 0, row.toString());
            assertTrue(row.bytesPerRank() > 0 && row.logicalGbps() > 0, row.toString());
            if (row.benchCase().startsWith("ll ")) {
                assertTrue(row.hook().sendUs() > 0 && row.hook().receiveUs() > 0, row.toString());
            }
        }
        assertEquals(4 * BenchCase.onCpu().length, file.sweep().size());
        assertTrue(Files.exists(dir.resolve("out/bench/bench.png")) || r.out().contains("no PNG written"),
                r.toString());
        assertEquals(shmBefore, shmFiles(), "the barrier's and the baseline's files are gone");
    }

    @Test
    void aJobTakesNoRanks() {
        CliRun ranks = CliRun.of("bench", "--job", "--quick", "--ranks", "2");
        assertEquals(2, ranks.code(), ranks.toString());
        assertTrue(ranks.err().contains("--ranks is not given in a job (--job): its size comes from the launcher's"
                + " variables"), ranks.toString());
        CliRun alone = CliRun.of("bench", "--job", "--quick", "--backend", "cpu");
        assertEquals(1, alone.code(), alone.toString());
        assertTrue(alone.err().startsWith("ep4j: error: RANK = (unset): expected the variables of a launcher"),
                alone.toString());
    }

    private ChildRun launch(String... args) throws Exception {
        Path script = Path.of("").toAbsolutePath().resolveSibling("bin").resolve("ep4j");
        List<String> cmd = new ArrayList<>(List.of(script.toString()));
        cmd.addAll(List.of(args));
        return ChildRun.of(dir, Map.of("JAVA_HOME", System.getProperty("java.home"), "EP4J_CLASSPATH",
                ChildRun.classPath()), cmd);
    }

    /** This machine's files of the command-line tool in shared memory. */
    private static Set<String> shmFiles() throws IOException {
        Path shm = Path.of("/dev/shm");
        if (!Files.isDirectory(shm)) {
            return Set.of();
        }
        try (Stream<Path> s = Files.list(shm)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ep4j.") && n.contains(".cli-"))
                    .collect(Collectors.toSet());
        }
    }
}
