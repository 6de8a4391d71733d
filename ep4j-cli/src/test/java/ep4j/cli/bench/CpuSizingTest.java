package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.job.Agreement;
import ep4j.cli.job.TwoRanks;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class CpuSizingTest {
    static final long GB = 1_000_000_000L;
    static final long GIB = 1L << 30;

    /** The default case: 4 CPU ranks, hidden 7168, top-8 of 256 experts. */
    static CpuSizing.Choice choose(Integer tokens, Integer llTokens, long physical) {
        return CpuSizing.choose(tokens, llTokens, 4, 7168, 8, 256, physical);
    }

    @Test
    void estimatesBoundThePeaksMeasuredOnThisProject() {
        // Peak RSS of `ep4j bench` (4 ranks, 7168, top-8 of 256), /usr/bin/time -v, 2-core x86 host:
        // 4096 / ll 128: 8.10 GB; 4096 / ll 16: 5.41 GB; 2048 / ll 64: 4.26 GB; 2048 / ll 32: 3.13 GB
        // (the CPU backend over shared regions, which added the send regions to the normal sizes).
        assertBetween(8.10, CpuSizing.peakBytes(4, 4096, 128, 7168, 8, 256), 8.8);
        assertBetween(5.41, CpuSizing.peakBytes(4, 4096, 16, 7168, 8, 256), 6.2);
        assertBetween(4.26, CpuSizing.peakBytes(4, 2048, 64, 7168, 8, 256), 4.8);
        assertBetween(3.13, CpuSizing.peakBytes(4, 2048, 32, 7168, 8, 256), 3.6);
    }

    private static void assertBetween(double measuredGb, long estimate, double maxGb) {
        assertTrue(estimate >= measuredGb * GB && estimate <= maxGb * GB,
                "estimate " + estimate / 1e9 + " GB for a measured " + measuredGb + " GB");
    }

    @Test
    void theDefaultCaseFitsTheCapOnAnyMachineOfEightGbOrMore() {
        for (long physical : new long[] {8 * GB, 16 * GIB, 512 * GIB, -1}) {
            CpuSizing.Choice c = choose(null, null, physical);
            assertEquals(2048, c.tokens(), "physical " + physical);
            assertEquals(32, c.llTokens(), "physical " + physical);
            assertEquals(CpuSizing.CAP, c.budgetBytes());
            assertTrue(c.peakBytes() <= c.budgetBytes());
            assertTrue(c.reduced());
        }
        String line = choose(null, null, 16 * GIB).describe(4, 7168, 8, 256);
        assertTrue(line.startsWith("CPU backend: 2048 tokens per rank, low-latency 32, about 3.3 GB of memory at most"
                + " (budget 3.5 GiB: the lesser of 3.5 GiB and half the 16.0 GiB of this machine)"), line);
        assertTrue(line.endsWith("; the full case (--tokens 4096 --ll-tokens 128) needs about 8.2 GB"), line);
    }

    @Test
    void smallerMachinesGetSmallerSizes() {
        CpuSizing.Choice c = choose(null, null, 4 * GIB);
        assertEquals(2 * GIB, c.budgetBytes());
        assertEquals(1024, c.tokens());
        assertEquals(16, c.llTokens());
        assertTrue(c.peakBytes() <= c.budgetBytes(), c.toString());
        // Never below the minimum, even where that does not fit.
        CpuSizing.Choice tiny = choose(null, null, GIB / 2);
        assertEquals(CpuSizing.MIN_TOKENS, tiny.tokens());
        assertEquals(CpuSizing.MIN_LL_TOKENS, tiny.llTokens());
    }

    @Test
    void givenSizesAreKept() {
        CpuSizing.Choice both = choose(4096, 128, 8 * GB);
        assertEquals(4096, both.tokens());
        assertEquals(128, both.llTokens());
        assertFalse(both.reduced(), "nothing was chosen, so no hint about the full case");
        assertTrue(both.peakBytes() > 8 * GB);
        CpuSizing.Choice one = choose(4096, null, 8 * GB);
        assertEquals(4096, one.tokens());
        assertEquals(32, one.llTokens());
        // Small problems run the full sizes.
        CpuSizing.Choice small = CpuSizing.choose(null, null, 2, 256, 4, 16, 8 * GB);
        assertEquals(4096, small.tokens());
        assertEquals(128, small.llTokens());
        assertFalse(small.reduced());
    }

    @Test
    void reachProbability() {
        assertEquals(1.0, CpuSizing.reachProbability(1, 8, 256));
        assertEquals(0.25, CpuSizing.reachProbability(4, 1, 4), 1e-12);
        assertEquals(1 - (192.0 / 256) * (191.0 / 255), CpuSizing.reachProbability(4, 2, 256), 1e-12);
        assertEquals(1.0, CpuSizing.reachProbability(2, 3, 4), "top-3 of 4 experts always reaches both ranks");
    }

    @Test
    void thisMachineHasAKnownMemorySize() {
        assertTrue(CpuSizing.physicalBytes() > 256L << 20, "physical memory " + CpuSizing.physicalBytes());
    }

    @Test
    void inAJobEveryRankTakesRankZerosSizes() throws Exception {
        // Rank 0 on a 6 GiB machine, rank 1 on a 512 GiB one: each alone would choose otherwise.
        assertTrue(choose(null, null, 6 * GIB).tokens() < choose(null, null, 512 * GIB).tokens());
        List<Future<CpuSizing.Choice>> agreed = TwoRanks.run((job, group) -> Agreement.rankZeros(job, "test.sizing",
                choose(null, null, job.rank() == 0 ? 6 * GIB : 512 * GIB), CpuSizing.Choice.class,
                Duration.ofSeconds(20)));
        for (Future<CpuSizing.Choice> f : agreed) {
            assertEquals(choose(null, null, 6 * GIB), f.get());
        }
    }
}
