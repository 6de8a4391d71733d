package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.KernelTiming;
import ep4j.KernelTiming.Stage;
import ep4j.Tensor;
import ep4j.cuda.driver.Driver;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The public timing API reports the GPU time of the last call's kernels, per stage and per call. */
@Tag("gpu")
class KernelTimingGpuTest {
    @Test
    void stagesOfTheLastCallAreTimed() {
        Assumptions.assumeTrue(Driver.isAvailable() && Driver.deviceCount() >= 2, "needs 2 GPUs");
        RoutingCase c = RoutingCase.of(2, 16, 1024, 4, 256, 7);
        try (EpGroup g = EpGroup.localGpus(2); EpBuffers bufs = g.allocate(BufferSpec.normal(1024, 256).maxTopk(4))) {
            List<double[]> got = g.onEachRank(r -> {
                EpBuffer buf = bufs.rank(r);
                KernelTiming timing = buf.kernelTiming().orElseThrow();
                assertFalse(timing.isEnabled());
                assertTrue(Double.isNaN(timing.lastCallMicros()), "nothing is timed before enable()");
                timing.enable();
                assertTrue(timing.isEnabled());
                try (Tensor x = g.upload(r, c.x(r)); Tensor idx = g.upload(r, c.topkIdx(r));
                     DispatchLayout layout = buf.layout(idx, 16)) {
                    double layoutUs = timing.lastMicros(Stage.LAYOUT);
                    assertEquals(layoutUs, timing.lastCallMicros(), 1e-9, "a layout runs one kernel");
                    try (Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout))) {
                        double notify = timing.lastMicros(Stage.NOTIFY);
                        double copy = timing.lastMicros(Stage.DISPATCH);
                        double call = timing.lastCallMicros();
                        assertTrue(Double.isNaN(timing.lastMicros(Stage.LAYOUT)), "a new call forgets the layout");
                        assertTrue(Double.isNaN(notify), "the bulk dispatch kernel runs the count exchange itself, yet "
                                + "a count exchange launch took " + notify + " us");
                        assertEquals(copy, call, 1e-9, "a fresh dispatch is one launch");
                        buf.combine(CombineArgs.of(d.x(), d.handle())).close();
                        double combine = timing.lastMicros(Stage.COMBINE);
                        assertEquals(combine, timing.lastCallMicros(), 1e-9);
                        timing.disable();
                        assertFalse(timing.isEnabled());
                        buf.combine(CombineArgs.of(d.x(), d.handle())).close();
                        assertTrue(Double.isNaN(timing.lastCallMicros()), "nothing is timed after disable()");
                        timing.enable();
                        buf.combine(CombineArgs.of(d.x(), d.handle())).close();
                        double again = timing.lastCallMicros();
                        return new double[] {layoutUs, copy, call, combine, again};
                    }
                }
            });
            for (double[] us : got) {
                for (double v : us) {
                    assertTrue(v > 0 && v < 1e6, v + " us");
                }
            }
        }
    }
}
