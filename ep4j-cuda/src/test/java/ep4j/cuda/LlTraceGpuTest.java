package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The low-latency kernels' diagnostic timeline (-Dep4j.cuda.llTrace): after synchronous calls,
 * every rank's file holds, per call, the points its blocks reached, in launch order.
 */
@Tag("gpu")
class LlTraceGpuTest {
    private static final String[] IN_ORDER = {"entry", "freeSeen", "rowsSent", "dataSeen", "allDone", "end"};

    @Test
    void synchronousCallsWriteATimelinePerRank(@TempDir Path dir) throws IOException {
        int ranks = 2;
        int experts = 8;
        int calls = 3;
        Cases.Case c = Cases.options().ranks(ranks).experts(experts).hidden(512).topk(2).tokens(16).seed(5).generate();
        BufferSpec spec = BufferSpec.normal(512, 1).lowLatency(16, experts).maxTopk(2);
        System.setProperty("ep4j.cuda.llTrace", dir.toString());
        try (EpGroup g = GpuRequired.group(ranks); EpBuffers b = g.allocate(spec)) {
            System.clearProperty("ep4j.cuda.llTrace"); // read when the buffers were made
            g.onEachRank(rank -> {
                EpBuffer buf = b.rank(rank);
                try (Tensor x = g.upload(rank, c.x(rank)); Tensor idx = g.upload(rank, c.topkIdx(rank));
                        Tensor w = g.upload(rank, c.topkWeights(rank))) {
                    for (int i = 0; i < calls; i++) {
                        try (LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, experts));
                                LowLatencyCombined o = buf.lowLatencyCombine(
                                        LowLatencyCombineArgs.of(buf.lowLatencyCombineInput(d.handle()), idx, w, d.handle())
                                                .zeroCopy(true))) {
                            o.x();
                        }
                    }
                }
                return null;
            });
        } finally {
            System.clearProperty("ep4j.cuda.llTrace");
        }
        for (int rank = 0; rank < ranks; rank++) {
            List<String> lines = Files.readAllLines(dir.resolve("ll-trace-rank" + rank + ".csv"));
            assertEquals("call,kernel,point,first_ns,last_ns,blocks,median_ns", lines.get(0));
            Map<String, long[]> last = new HashMap<>(); // "call,kernel,point" -> {first, last, blocks, median}
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.split(",");
                last.put(f[0] + "," + f[1] + "," + f[2],
                        new long[] {Long.parseLong(f[3]), Long.parseLong(f[4]), Long.parseLong(f[5]), Long.parseLong(f[6])});
            }
            for (int call = 0; call < 2 * calls; call++) {
                String kernel = call % 2 == 0 ? "dispatch-BF16" : "combine";
                long previous = -1;
                for (String point : IN_ORDER) {
                    long[] v = last.get(call + "," + kernel + "," + point);
                    assertTrue(v != null, "rank " + rank + " call " + call + " " + kernel + ": no " + point + " in " + lines);
                    assertTrue(v[0] >= previous && v[1] >= v[0], "rank " + rank + " call " + call + " " + point + ": "
                            + v[0] + ".." + v[1] + " after " + previous);
                    assertTrue(v[3] >= v[0] && v[3] <= v[1], "rank " + rank + " call " + call + " " + point
                            + ": median " + v[3] + " outside " + v[0] + ".." + v[1]);
                    previous = v[0];
                }
                assertEquals(0, last.get(call + "," + kernel + ",entry")[0], "times count from the first block's entry");
                assertEquals(1, last.get(call + "," + kernel + ",end")[2], "only the last block ends the op");
                // A receiver counts every block of every source in, this rank's own included: no
                // block sees the data before the last block of this rank has sent its rows. The
                // last send block's bookkeeping (allSent) may come after the data is seen.
                long[] sent = last.get(call + "," + kernel + ",rowsSent");
                long[] seen = last.get(call + "," + kernel + ",dataSeen");
                long[] allSent = last.get(call + "," + kernel + ",allSent");
                assertTrue(seen[0] >= sent[1], "rank " + rank + " call " + call + " " + kernel + ": data seen at "
                        + seen[0] + " before this rank's last block sent its rows at " + sent[1]);
                assertTrue(allSent != null && allSent[2] == 1 && allSent[0] >= sent[1], "rank " + rank + " call " + call
                        + " " + kernel + ": allSent " + (allSent == null ? "missing" : allSent[0] + " x" + allSent[2]));
            }
        }
    }
}
