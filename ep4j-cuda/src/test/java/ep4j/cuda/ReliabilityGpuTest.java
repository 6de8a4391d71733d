package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.BufferSpec;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.EpTimeoutException;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** DESIGN 5 on the GPU: content errors found by kernels, worst-case overflow, and a stalled peer. */
@Tag("gpu")
class ReliabilityGpuTest {
    private static EpGroup twoGpus() {
        return GpuRequired.group(2);
    }

    @Test
    void anExpertIndexOutOfRangeFoundByTheKernelIsAnInvalidArgument() {
        GpuRequired.backend(1, 1);
        try (EpGroup g = EpGroup.localGpus(1); EpBuffers b = g.allocate(BufferSpec.normal(1024, 16))) {
            Tensor idx = g.upload(0, Tensor.ofLongs(new long[] {0, 5, -1, 300, 7, 1}, 3, 2));
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> b.rank(0).layout(idx, 256));
            assertEquals("topkIdx[1][1]", e.argument());
            assertEquals("300", e.value());
            assertTrue(e.getMessage().contains("[0, 256)"), e.getMessage());
            idx.close();
        }
    }

    @Test
    void tooFewWorstCaseRowsFailOnEveryRank() {
        try (EpGroup g = twoGpus(); EpBuffers b = g.allocate(BufferSpec.normal(1024, 64))) {
            var failures = g.onEachRank(r -> {
                Tensor x = g.upload(r, RoutingCase.of(2, 8, 1024, 2, 64, 3).x(r));
                Tensor idx = g.upload(r, RoutingCase.of(2, 8, 1024, 2, 64, 3).topkIdx(r));
                EpBuffer buf = b.rank(r);
                try (DispatchLayout layout = buf.layout(idx, 8)) {
                    return assertThrows(InvalidArgumentException.class,
                            () -> buf.dispatch(DispatchArgs.of(x).layout(layout).numWorstTokens(10)));
                }
            });
            for (InvalidArgumentException e : failures) {
                assertEquals("numWorstTokens", e.argument());
                assertEquals("10", e.value());
            }
        }
    }

    @Test
    void aPeerThatNeverCallsMakesTheOtherRankTimeOutNamingIt() {
        try (EpGroup g = twoGpus();
             EpBuffers b = g.allocate(BufferSpec.normal(1024, 64).timeout(Duration.ofMillis(500)))) {
            Tensor x = g.upload(0, RoutingCase.of(2, 8, 1024, 2, 64, 4).x(0));
            Tensor idx = g.upload(0, RoutingCase.of(2, 8, 1024, 2, 64, 4).topkIdx(0));
            EpBuffer buf = b.rank(0);
            long t0 = System.nanoTime();
            try (DispatchLayout layout = buf.layout(idx, 8)) {
                EpTimeoutException e = assertThrows(EpTimeoutException.class,
                        () -> buf.dispatch(DispatchArgs.of(x).layout(layout)));
                assertEquals("dispatch", e.operation());
                assertEquals(0, e.rank());
                assertEquals(1, e.peer());
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 5000, "took " + ms + " ms");
            assertThrows(IllegalStateException.class, () -> buf.layout(idx, 8), "a timed-out buffer refuses work");
        }
    }
}
