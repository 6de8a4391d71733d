package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.rendezvous.LocalRendezvous;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Groups spread over processes on the GPU backend: each "process" here is a thread that forms
 * its own one-rank view of the group ({@link GroupSpec#process}), so the heaps travel as exported
 * file descriptors through the descriptor servers and are mapped again, as between real
 * processes. The results must be the bytes of a one-JVM group of the CPU backend.
 */
@Tag("gpu")
class MultiProcessGpuTest {
    @Test
    void twoOneRankViewsGiveTheBytesOfTheCpuBackend() throws Exception {
        GpuRequired.gpus(2);
        int ranks = 2;
        RoutingCase c = RoutingCase.of(ranks, 64, 2048, 8, 300, 31);
        Scenario.Options o = new Scenario.Options(false, 1, 0, ep4j.Config.sms(8));
        List<Map<String, byte[]>> expected;
        try (EpGroup cpu = EpGroup.cpu(ranks)) {
            expected = Scenario.run(cpu, c, o);
        }
        LocalRendezvous.Job job = new LocalRendezvous.Job(ranks);
        ExecutorService pool = Executors.newFixedThreadPool(ranks);
        try {
            List<Future<Map<String, byte[]>>> got = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                int rank = r;
                Callable<Map<String, byte[]>> process = () -> {
                    try (EpGroup g = EpGroup.open(GroupSpec.ranks(ranks).backend("cuda")
                            .process(rank, rank, () -> job.rank(rank)))) {
                        assertEquals(1, g.localRanks().length);
                        return Scenario.run(g, c, o).get(0);
                    }
                };
                got.add(pool.submit(process));
            }
            for (int r = 0; r < ranks; r++) {
                Map<String, byte[]> actual = got.get(r).get();
                assertEquals(expected.get(r).keySet(), actual.keySet(), "outputs of rank " + r);
                for (String name : expected.get(r).keySet()) {
                    assertArrayEquals(expected.get(r).get(name), actual.get(name), name + " of rank " + r);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
