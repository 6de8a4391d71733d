package ep4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import ep4j.oracle.Oracle;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Same inputs, same bytes (DESIGN 2.7), including when result memory is reused from earlier calls. */
class ReproducibilityTest {
    private static final Cases.Case C = Cases.options().ranks(4).experts(16).topk(4).tokens(9, 3, 0, 12).hidden(256)
            .minusOne(0.1).seed(1234).generate();

    private static List<List<byte[]>> runAll() {
        Cases.Case c = C;
        int n = 12;
        int L = 4;
        int cap = 4 * n;
        return Host.run(4, BufferSpec.normal(256, n).lowLatency(n, 16), (r, buf) -> {
            List<byte[]> out = new ArrayList<>();
            Tensor idx = c.topkIdx(r);
            try (DispatchLayout l = buf.layout(idx, 16);
                    Dispatched d = buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(l)
                            .expertAlignment(4));
                    Tensor y = Host.bf16(Host.randomBf16((int) d.numRows() * 256, r), d.numRows(), 256);
                    Tensor bias = Host.bf16(Host.randomBf16(c.tokens[r] * 256, 9 + r), c.tokens[r], 256);
                    Combined cb = buf.combine(CombineArgs.of(y, d.handle()).topkWeights(d.topkWeights()).bias(bias))) {
                out.add(Host.bytes(d.x()));
                out.add(Host.bytes(d.topkWeights()));
                out.add(Host.bytes(cb.x()));
                out.add(Host.bytes(cb.topkWeights()));
            }
            LowLatencyDispatched ld = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(c.x(r), idx, 16).fp8(true, true));
            int[] count = Host.ints(ld.recvCount());
            out.add(Oracle.validRows(Host.bytes(ld.x()), 256, cap, count));
            out.add(Oracle.validRows(Host.bytes(ld.scales()), 4, cap, count));
            try (Tensor y = Host.bf16(Host.randomBf16(L * cap * 256, 50 + r), L, cap, 256);
                    LowLatencyCombined lc = buf.lowLatencyCombine(
                            LowLatencyCombineArgs.of(y, idx, c.topkWeights(r), ld.handle()))) {
                out.add(Host.bytes(lc.x()));
            }
            return out;
        });
    }

    @Test
    void sameInputsSameBytes() {
        List<List<byte[]>> a = runAll();
        List<List<byte[]>> b = runAll();
        for (int r = 0; r < 4; r++) {
            assertEquals(a.get(r).size(), b.get(r).size());
            for (int i = 0; i < a.get(r).size(); i++) {
                assertArrayEquals(a.get(r).get(i), b.get(r).get(i), "rank " + r + " output " + i);
            }
        }
    }

    /**
     * Dispatches refill the same two receive slots (unzeroed memory that still holds the rows of
     * earlier calls, which received more or fewer rows than this one) and results closed and made
     * again reuse pooled memory: padding and every row must still be exact.
     */
    @Test
    void repeatedCallsOnOneBufferStayExact() {
        int worst = 40;
        Cases.Case[] cs = new Cases.Case[4];
        Oracle.Dispatch[][] want = new Oracle.Dispatch[4][];
        for (int i = 0; i < 4; i++) {
            cs[i] = Cases.options().ranks(3).experts(6).topk(3).tokens(8 + i, 10 - i, 4).hidden(128).minusOne(0.2)
                    .seed(77 + i).generate();
            want[i] = Oracle.dispatch(cs[i], 1, worst);
        }
        List<List<Object[]>> got = Host.run(3, BufferSpec.normal(128, 16), (r, buf) -> {
            List<Object[]> out = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Cases.Case c = cs[i % 4];
                Tensor idx = c.topkIdx(r);
                try (DispatchLayout l = buf.layout(idx, 6);
                        Dispatched d = buf.dispatch(DispatchArgs.of(c.x(r)).topk(idx, c.topkWeights(r)).layout(l)
                                .numWorstTokens(worst))) {
                    out.add(new Object[] {Host.bytes(d.x()), Host.longs(d.topkIdx()), Host.floats(d.topkWeights()),
                            Host.ints(d.handle().sourceToken())});
                }
            }
            return out;
        });
        for (int r = 0; r < 3; r++) {
            for (int i = 0; i < 8; i++) {
                Oracle.Dispatch w = want[i % 4][r];
                Object[] g = got.get(r).get(i);
                String at = "rank " + r + " call " + i;
                assertArrayEquals(w.x(), (byte[]) g[0], at);
                assertArrayEquals(w.topkIdx(), (long[]) g[1], at);
                assertArrayEquals(w.topkWeights(), (float[]) g[2], at);
                assertArrayEquals(w.sourceToken(), (int[]) g[3], at);
            }
        }
    }
}
