package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LatencyTest {
    @Test
    void percentilesComeFromTheHistogramAndTheRestIsExact() {
        // 1..100 us in a shuffled order.
        long[] ns = new long[100];
        for (int i = 0; i < 100; i++) {
            ns[i] = (long) ((i * 37) % 100 + 1) * 1000;
        }
        Latency l = Latency.of(ns);
        assertEquals(100, l.samples());
        assertEquals(50_500, l.median());
        assertEquals(1000, l.min());
        assertEquals(100_000, l.max());
        assertEquals(50_500, l.mean());
        // Three significant digits: the top of the sample's bucket, at most 0.1% above it.
        assertTrue(l.p50() >= 50_000 && l.p50() <= 50_000 * 1.001, "p50 " + l.p50());
        assertTrue(l.p99() >= 99_000 && l.p99() <= 99_000 * 1.001, "p99 " + l.p99());
    }

    @Test
    void aLongTailShowsInP99AndMaxNotInTheMedian() {
        long[] ns = new long[200];
        java.util.Arrays.fill(ns, 10_000);
        ns[7] = 5_000_000;
        ns[8] = 7_000_000;
        ns[9] = 9_000_000;
        Latency l = Latency.of(ns);
        assertEquals(10_000, l.median());
        assertTrue(l.p50() <= 10_010, "p50 " + l.p50());
        assertTrue(l.p99() >= 5_000_000 && l.p99() <= 7_000_000 * 1.001, "p99 " + l.p99());
        assertEquals(9_000_000, l.max());
    }

    @Test
    void percentilesNeverExceedTheSlowestCall() {
        // 705_900 ns sits in a bucket whose top is above it: p99 is the max itself, not the bucket top.
        Latency l = Latency.of(new long[] {627_200, 705_900, 600_000});
        assertEquals(705_900, l.p99());
        assertEquals(705_900, l.max());
        assertTrue(l.p50() >= 627_200 && l.p50() <= 627_200 * 1.001, "p50 " + l.p50());
    }

    @Test
    void emptyAndNegative() {
        assertTrue(Double.isNaN(Latency.of(new long[0]).p99()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Latency.of(new long[] {5, -1}));
        assertEquals("a call time of -1 ns: expected >= 0", e.getMessage());
    }
}
