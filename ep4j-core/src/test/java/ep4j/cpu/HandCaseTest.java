package ep4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import ep4j.oracle.Oracle;
import ep4j.oracle.OracleSelfTest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The backend on the hand-computed case of {@link OracleSelfTest}. */
class HandCaseTest {
    @Test
    void dispatchAndCombine() {
        Cases.Case c = OracleSelfTest.handCase();
        List<Object[]> got = Host.run(2, BufferSpec.normal(8, 4), (r, buf) -> {
            try (Tensor idx = c.topkIdx(r); DispatchLayout l = buf.layout(idx, 4);
                    Dispatched d = buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(l));
                    Combined cb = buf.combine(CombineArgs.of(d.x(), d.handle()).topkWeights(d.topkWeights()))) {
                return new Object[] {Host.ints(d.handle().sourceToken()), Host.longs(d.topkIdx()),
                        Host.floats(d.topkWeights()), d.tokensPerExpertList(), Host.ints(d.handle().sendRow()),
                        Host.shorts(cb.x()), Host.floats(cb.topkWeights())};
            }
        });
        assertArrayEquals(new int[] {0, 1}, (int[]) got.get(0)[0]);
        assertArrayEquals(new int[] {0, 2, 0}, (int[]) got.get(1)[0]);
        assertArrayEquals(new long[] {-1, 1, 0, 0, 1, 0}, (long[]) got.get(1)[1]);
        assertArrayEquals(new float[] {0f, 0.25f, 0.125f, 0.75f, 1.5f, 0.5f}, (float[]) got.get(1)[2]);
        assertArrayEquals(new int[] {2, 2}, (int[]) got.get(1)[3]);
        assertArrayEquals(new int[] {0, 0, 1, -1, -1, 1}, (int[]) got.get(0)[4]);
        short[] cb0 = (short[]) got.get(0)[5];
        short[] cb1 = (short[]) got.get(1)[5];
        assertArrayEquals(new float[] {2f, 2f, 3f}, new float[] {Oracle.bf16ToFloat(cb0[0]), Oracle.bf16ToFloat(cb0[8]),
                Oracle.bf16ToFloat(cb0[16])});
        assertArrayEquals(new float[] {5f, 0f}, new float[] {Oracle.bf16ToFloat(cb1[0]), Oracle.bf16ToFloat(cb1[8])});
        assertArrayEquals(new float[] {0.5f, 0.25f, 1f, 0f, 0.125f, 0.75f}, (float[]) got.get(0)[6]);
    }
}
