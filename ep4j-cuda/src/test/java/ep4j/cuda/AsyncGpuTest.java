package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Async calls return before the GPU is done; their events, and previous events, order the work. */
@Tag("gpu")
class AsyncGpuTest {
    @Test
    void asyncDispatchAndCombineGiveTheSameBytesAsSynchronousCalls() {
        RoutingCase c = RoutingCase.of(2, 64, 4096, 8, 2048, 77);
        try (EpGroup g = GpuRequired.group(2); EpBuffers b = g.allocate(BufferSpec.normal(4096, 2048))) {
            g.onEachRank(r -> {
                EpBuffer buf = b.rank(r);
                try (Tensor x = g.upload(r, c.x(r)); Tensor idx = g.upload(r, c.topkIdx(r));
                     Tensor w = g.upload(r, c.topkWeights(r)); DispatchLayout layout = buf.layout(idx, 64)) {
                    byte[] syncX;
                    byte[] syncCombined;
                    try (Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(layout));
                         Combined comb = buf.combine(CombineArgs.of(d.x(), d.handle()));
                         Tensor hx = g.download(d.x()); Tensor hc = g.download(comb.x())) {
                        syncX = hx.toByteArray();
                        syncCombined = hc.toByteArray();
                    }
                    try (Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(layout).async(true));
                         Combined comb = buf.combine(
                                 CombineArgs.of(d.x(), d.handle()).previous(d.event()).async(true))) {
                        comb.event().await();
                        assertTrue(comb.event().isComplete());
                        try (Tensor hx = g.download(d.x()); Tensor hc = g.download(comb.x())) {
                            assertArrayEquals(syncX, hx.toByteArray(), "async dispatch of rank " + r);
                            assertArrayEquals(syncCombined, hc.toByteArray(), "async combine of rank " + r);
                        }
                    }
                }
                return null;
            });
        }
    }
}
