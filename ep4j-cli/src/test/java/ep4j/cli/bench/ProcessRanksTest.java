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

    @Test
    void acrossHostsTheRanksMeetAtTheStoresBarrierAndANoteSaysSo() throws Exception {
        List<Future<Seen>> results = TwoRanks.run((job, group) -> {
            try (ProcessRanks ranks = ProcessRanks.acrossHosts(job, TIMEOUT, 2)) {
                int me = job.rank();
                double[][] t = {{me == 0 ? 1 : Double.NaN, me == 1 ? 2 : Double.NaN}};
                ranks.pool("test figures", t);
                long[] released = new long[5];
                int[] n = {0};
                RankBarrier b = ranks.barrier(x -> released[n[0]++] = x);
                for (int i = 0; i < released.length; i++) {
                    b.await();
                }
                assertEquals(1, ranks.notes().size());
                assertTrue(ranks.notes().get(0).startsWith("ranks on 2 hosts: they meet at the rendezvous store's"
                        + " barrier over TCP, so every wall time includes a network barrier"), ranks.notes().get(0));
                return new Seen(t, t, released, ranks.describe());
            }
        });
        for (Future<Seen> f : results) {
            Seen s = f.get();
            assertEquals(1.0, s.small()[0][0]);
            assertEquals(2.0, s.small()[0][1]);
            assertEquals("2 processes, one rank each, on 2 hosts, meeting at the rendezvous store's barrier (TCP)",
                    s.describe());
            for (int i = 1; i < s.released().length; i++) {
                assertTrue(s.released()[i] > s.released()[i - 1], "this process's own clock: " + i);
            }
        }
    }

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
