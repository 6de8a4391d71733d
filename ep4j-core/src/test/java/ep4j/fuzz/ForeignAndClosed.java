package ep4j.fuzz;

import static ep4j.fuzz.Fixture.invalid;
import static ep4j.fuzz.Fixture.oneLine;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.CombineArgs;
import ep4j.DispatchArgs;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;

/**
 * Things that are not this buffer's, or no longer open: a handle of another buffer (normal and
 * low latency), a closed result's handle, layout and tensors, a closed tensor as input, a
 * low-latency handle gone stale. Rejected naming the argument, or (reading a closed result) an
 * {@link IllegalStateException} saying it was closed; nothing changes.
 */
final class ForeignAndClosed {
    private ForeignAndClosed() {
    }

    /** Combine, cached dispatch or low-latency combine on buffer B with a handle made by buffer A. */
    static void handleOfAnotherBuffer(long seed) {
        Fixture f = new Fixture(seed, false);
        int variant = f.rnd.nextInt(3);
        f.rejectedAndNothingChanged((r, buf, other) -> {
            {
                EpBuffer a = other;
                Tensor x = f.x(r);
                Tensor idx = f.idx(r);
                if (variant == 2) {
                    LowLatencyDispatched d = a.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, f.experts));
                    Tensor y = Tensor.allocateHost(ep4j.DType.BF16, f.experts / f.ranks, (long) f.ranks * f.maxTokens, f.hidden);
                    invalid("handle", "a handle of another buffer", "a LowLatencyHandle made by this buffer",
                            () -> buf.lowLatencyCombine(LowLatencyCombineArgs.of(y, idx, f.weights(r, f.tokens[r]), d.handle())));
                    return;
                }
                try (DispatchLayout layout = a.layout(idx, f.experts);
                     Dispatched d = a.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout))) {
                    String value = "a handle of rank " + r + " of another buffer";
                    if (variant == 0) {
                        invalid("handle", value, "a handle made by this buffer",
                                () -> buf.combine(CombineArgs.of(d.x(), d.handle())));
                    } else {
                        invalid("handle", value, "a handle made by this buffer",
                                () -> buf.dispatch(DispatchArgs.of(x).cached(d.handle())));
                    }
                }
            }
        });
    }

    /** A closed Dispatched (its handle, its tensors), a closed layout, a closed input tensor, a stale low-latency handle. */
    static void closedOrStale(long seed) {
        Fixture f = new Fixture(seed, false);
        int variant = f.rnd.nextInt(5);
        f.rejectedAndNothingChanged((r, buf, other) -> {
            Tensor x = f.x(r);
            Tensor idx = f.idx(r);
            switch (variant) {
                case 0, 1 -> {
                    DispatchHandle h;
                    Tensor recv;
                    try (DispatchLayout layout = buf.layout(idx, f.experts);
                         Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout))) {
                        h = d.handle();
                        recv = d.x();
                        d.close();
                        IllegalStateException e = assertThrows(IllegalStateException.class, d::x);
                        assertTrue(e.getMessage().contains("Dispatched was closed"), e.getMessage());
                        oneLine(e);
                    }
                    if (variant == 0) {
                        invalid("handle", "closed", "an open handle", () -> buf.combine(CombineArgs.of(x, h)));
                    } else {
                        invalid("handle", "closed", "an open handle", () -> buf.dispatch(DispatchArgs.of(x).cached(h)));
                    }
                    IllegalStateException e = assertThrows(IllegalStateException.class, recv::segment);
                    assertTrue(e.getMessage().contains("was closed"), e.getMessage());
                }
                case 2 -> {
                    DispatchLayout layout = buf.layout(idx, f.experts);
                    layout.close();
                    invalid("layout", "closed", "an open DispatchLayout",
                            () -> buf.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout)));
                }
                case 3 -> {
                    try (DispatchLayout layout = buf.layout(idx, f.experts)) {
                        x.close();
                        invalid("x", "BF16[", "an open tensor (it was closed)",
                                () -> buf.dispatch(DispatchArgs.of(x).topk(idx, null).layout(layout)));
                    }
                }
                default -> {
                    LowLatencyDispatched first = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, f.experts));
                    buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, f.experts));
                    buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, f.experts));
                    Tensor y = Tensor.allocateHost(ep4j.DType.BF16, f.experts / f.ranks, (long) f.ranks * f.maxTokens, f.hidden);
                    invalid("handle", "stale (generation 0)", "a handle of one of the last two low-latency dispatches",
                            () -> buf.lowLatencyCombine(LowLatencyCombineArgs.of(y, idx, f.weights(r, f.tokens[r]),
                                    first.handle())));
                    IllegalStateException e = assertThrows(IllegalStateException.class, first::x);
                    oneLine(e);
                }
            }
        });
    }
}
