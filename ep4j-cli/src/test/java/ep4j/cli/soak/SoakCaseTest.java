package ep4j.cli.soak;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The soak's cases: a seed alone determines its case, seeds of a block share buffers, and the modes all come up. */
class SoakCaseTest {
    @Test
    void aSeedDeterminesItsCase() {
        for (long seed = -20; seed < 200; seed++) {
            SoakCase a = SoakCase.draw(seed, 3);
            SoakCase b = SoakCase.draw(seed, 3);
            assertEquals(a.describe(), b.describe());
            for (int r = 0; r < 3; r++) {
                assertArrayEquals(a.routing(r), b.routing(r));
            }
        }
    }

    @Test
    void seedsOfABlockShareTheirBufferShape() {
        assertEquals(SoakCase.draw(16, 2).shape(), SoakCase.draw(23, 2).shape());
        assertEquals(SoakCase.draw(-8, 2).shape(), SoakCase.draw(-1, 2).shape());
    }

    @Test
    void everyStepFitsItsBuffersAndRoutesInRange() {
        Set<String> modes = new HashSet<>();
        for (long seed = 0; seed < 2000; seed++) {
            SoakCase c = SoakCase.draw(seed, 4);
            modes.add(c.mode());
            boolean ll = c.kind() == SoakCase.Kind.LOW_LATENCY;
            int cap = ll ? c.shape().llTokens() : c.shape().maxTokens();
            assertTrue(c.topk() <= c.shape().maxTopk() && c.experts() % 4 == 0, c.describe());
            assertTrue(c.fp8() == null || c.shape().hidden() % 128 == 0, c.describe());
            for (int r = 0; r < 4; r++) {
                assertTrue(c.tokens()[r] <= cap, c.describe());
                for (long e : c.routing(r)) {
                    assertTrue(e >= -1 && e < c.experts(), c.describe());
                }
            }
            if (c.worstSized()) {
                int worst = c.numWorstTokens();
                assertTrue(worst >= 1 && worst <= 4 * c.shape().maxTokens(), c.describe());
                for (int rows : c.receivedRows()) {
                    assertTrue(rows <= worst, c.describe());
                }
            }
        }
        // 4 kinds x bf16 and 3 fp8 modes, low latency with and without hooks: 20 modes.
        assertEquals(20, modes.size(), modes.toString());
    }
}
