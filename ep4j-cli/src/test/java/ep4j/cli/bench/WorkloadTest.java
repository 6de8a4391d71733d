package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.codec.BFloat16;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class WorkloadTest {
    @Test
    void routingPicksDistinctExpertsSpreadOverAll() {
        int tokens = 2000;
        int experts = 64;
        int k = 8;
        long[] ids = new long[tokens * k];
        Workload.routing(new SplittableRandom(3), tokens, experts, k, ids);
        int[] hits = new int[experts];
        for (int t = 0; t < tokens; t++) {
            Set<Long> s = new HashSet<>();
            for (int j = 0; j < k; j++) {
                long e = ids[t * k + j];
                assertTrue(e >= 0 && e < experts);
                assertTrue(s.add(e), "token " + t + " picks expert " + e + " twice");
                hits[(int) e]++;
            }
        }
        // Uniform: 250 expected per expert.
        for (int h : hits) {
            assertTrue(h > 150 && h < 350, "expert load " + h);
        }
    }

    @Test
    void tokensAreFiniteBf16InRange() {
        MemorySegment seg = Arena.ofAuto().allocate(2 * 10_001);
        Workload.fillBf16(new SplittableRandom(5), seg, 10_001);
        int negative = 0;
        for (int i = 0; i < 10_001; i++) {
            float f = BFloat16.toFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            assertTrue(Float.isFinite(f) && Math.abs(f) >= 0x1p-7f && Math.abs(f) < 2f, "value " + f);
            negative += f < 0 ? 1 : 0;
        }
        assertTrue(negative > 4000 && negative < 6000, "negatives " + negative);
    }

    @Test
    void transposeAndRowBytes() {
        long[][] m = {{1, 2}, {3, 4}};
        assertEquals(3, Bench.transpose(m)[0][1]);
        assertEquals(2 * 7168, BenchCase.DISPATCH_BF16.rowBytes(7168));
        assertEquals(7168 + 4 * 56, BenchCase.DISPATCH_FP8.rowBytes(7168));
    }
}
