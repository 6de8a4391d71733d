package ep4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.job.TwoRanks;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The ranks of a job (two ranks as threads with their own job and group, as two processes have
 * them): every rank's column pooled into every process, in one gather or several, and barriers
 * whose release time is the same for all.
 */
class ProcessRanksTest {
    static final Duration TIMEOUT = Duration.ofSeconds(20);

    record Seen(double[][] small, double[][] large, long[] released, String describe) {
    }

    @Test
    void everyRanksColumnReachesEveryProcessAndBarriersReleaseAtOneTime() throws Exception {
        // 7000 rows: more than one gather of ProcessRanks.CHUNK bytes.
        int rows = 7000;
        assertTrue(rows * Double.BYTES > ProcessRanks.CHUNK);
        List<Future<Seen>> results = TwoRanks.run((job, group) -> {
            try (ProcessRanks ranks = ProcessRanks.open(job, TIMEOUT)) {
                int me = job.rank();
                double[][] small = new double[3][2];
                double[][] large = new double[rows][2];
                for (double[][] t : List.of(small, large)) {
                    for (int i = 0; i < t.length; i++) {
                        t[i][me] = 1000.0 * me + i;
                        t[i][1 - me] = Double.NaN;
                    }
                }
                ranks.pool("test figures", small, large);
                long[] released = new long[50];
                int[] n = {0};
                RankBarrier b = ranks.barrier(t -> released[n[0]++] = t);
                for (int i = 0; i < released.length; i++) {
                    b.await();
                }
                return new Seen(small, large, released, ranks.describe());
            }
        });
        Seen zero = results.get(0).get();
        Seen one = results.get(1).get();
        for (Seen s : List.of(zero, one)) {
            for (double[][] t : List.of(s.small(), s.large())) {
                for (int i = 0; i < t.length; i++) {
                    assertEquals(i, t[i][0], "rank 0's figure " + i);
                    assertEquals(1000.0 + i, t[i][1], "rank 1's figure " + i);
                }
            }
            assertEquals("2 processes, one rank each, on one host, meeting at a spinning barrier in shared memory",
                    s.describe());
        }
        for (int i = 0; i < zero.released().length; i++) {
            assertEquals(zero.released()[i], one.released()[i], "passage " + i + ": one release time");
            assertTrue(i == 0 || zero.released()[i] > zero.released()[i - 1], "passage " + i);
        }
    }
}
