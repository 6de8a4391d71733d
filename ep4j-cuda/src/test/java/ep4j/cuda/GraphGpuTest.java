package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGraph;
import ep4j.EpGroup;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.codec.BFloat16;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.KernelArgs;
import ep4j.oracle.Cases;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CUDA graphs of ep4j calls (issue "GPU runtime", item 6): every rank captures [dispatch, a stub
 * expert kernel, combine] once and replays it with new inputs written into the captured tensors;
 * every replay must be bit-identical to the CPU backend running the same calls (the stub is
 * y = bf16(x * 2) on both sides).
 */
@Tag("gpu")
class GraphGpuTest {
    private static final float FACTOR = 2.0f;

    /** The stub expert on the rank's stream (ep4j_stub_expert). */
    private static void stub(EpGroup g, int rank, EpBuffer buf, Tensor in, Tensor out) {
        CudaContext ctx = ((CudaGroup) g).context(rank);
        try (KernelArgs args = new KernelArgs()) {
            args.ptr(in.address()).ptr(out.address()).i64(in.numel()).f32(FACTOR);
            ((CudaGroup) g).kernels(rank).stubExpert.launch(64, 1, 256, 0, CudaStream.wrap(ctx, buf.nativeStream()), args);
        }
    }

    /** The same on the host. */
    private static Tensor stubOnHost(Tensor in) {
        short[] bits = in.toShortArray();
        for (int i = 0; i < bits.length; i++) {
            bits[i] = BFloat16.fromFloat(BFloat16.toFloat(bits[i]) * FACTOR);
        }
        return Tensor.ofBf16Bits(bits, in.shape());
    }

    private static void write(EpGroup g, int rank, Tensor device, Tensor host) {
        try (host) {
            DeviceMemory.copyFromHost(((CudaGroup) g).context(rank), host.segment(), device.address());
        }
    }

    @Test
    void aLowLatencyDispatchStubCombineGraphReplaysLikeTheCpuBackend() {
        int ranks = 2;
        int experts = 16;
        int hidden = 1024;
        int tokens = 48;
        int topk = 4;
        int replays = 1000;
        BufferSpec spec = BufferSpec.normal(hidden, 1).lowLatency(tokens, experts).maxTopk(topk)
                .timeout(Duration.ofSeconds(10));
        try (EpGroup gpu = GpuRequired.group(ranks); EpGroup cpu = EpGroup.cpu(ranks);
                EpBuffers gb = gpu.allocate(spec); EpBuffers cb = cpu.allocate(spec)) {
            gpu.onEachRank(rank -> {
                EpBuffer buf = gb.rank(rank);
                EpBuffer ref = cb.rank(rank);
                Cases.Case first = Cases.options().ranks(ranks).experts(experts).hidden(hidden).topk(topk).tokens(tokens)
                        .minusOne(0.1).seed(1).generate();
                int local = experts / ranks;
                try (Tensor x = gpu.upload(rank, first.x(rank)); Tensor idx = gpu.upload(rank, first.topkIdx(rank));
                        Tensor w = gpu.upload(rank, first.topkWeights(rank));
                        Tensor y = gpu.allocate(rank, DType.BF16, local, (long) ranks * tokens, hidden);
                        Tensor out = gpu.allocate(rank, DType.BF16, tokens, hidden)) {
                    AtomicReference<LowLatencyDispatched> kept = new AtomicReference<>();
                    AtomicReference<LowLatencyCombined> combined = new AtomicReference<>();
                    try (EpGraph graph = buf.captureGraph(() -> {
                        LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, idx, experts));
                        stub(gpu, rank, buf, d.x(), y);
                        kept.set(d);
                        combined.set(buf.lowLatencyCombine(LowLatencyCombineArgs.of(y, idx, w, d.handle()).out(out)));
                    })) {
                        for (int i = 0; i < replays; i++) {
                            Cases.Case c = Cases.options().ranks(ranks).experts(experts).hidden(hidden).topk(topk)
                                    .tokens(tokens).minusOne(0.1).duplicates(0.1).seed(1000 + i).generate();
                            write(gpu, rank, x, c.x(rank));
                            write(gpu, rank, idx, c.topkIdx(rank));
                            write(gpu, rank, w, c.topkWeights(rank));
                            graph.replay().await();
                            byte[] actual;
                            try (Tensor h = gpu.download(out)) {
                                actual = h.toByteArray();
                            }
                            // The CPU backend: the same calls, the stub on the host.
                            try (Tensor hx = c.x(rank); Tensor hi = c.topkIdx(rank); Tensor hw = c.topkWeights(rank);
                                    LowLatencyDispatched d = ref.lowLatencyDispatch(LowLatencyDispatchArgs.of(hx, hi, experts));
                                    Tensor hy = stubOnHost(d.x());
                                    LowLatencyCombined o = ref.lowLatencyCombine(
                                            LowLatencyCombineArgs.of(hy, hi, hw, d.handle()))) {
                                assertArrayEquals(o.x().toByteArray(), actual, "rank " + rank + ", replay " + i);
                            }
                        }
                    }
                    combined.get().close();
                    kept.get().close();
                }
                return null;
            });
        }
    }

    @Test
    void aNormalLayoutDispatchCombineGraphReplaysLikeTheCpuBackend() {
        int ranks = 2;
        int experts = 32;
        int hidden = 2048;
        int tokens = 256;
        int topk = 6;
        int replays = 100;
        int worst = ranks * tokens;
        BufferSpec spec = BufferSpec.normal(hidden, tokens).maxTopk(topk).timeout(Duration.ofSeconds(10));
        try (EpGroup gpu = GpuRequired.group(ranks); EpGroup cpu = EpGroup.cpu(ranks);
                EpBuffers gb = gpu.allocate(spec); EpBuffers cb = cpu.allocate(spec)) {
            gpu.onEachRank(rank -> {
                EpBuffer buf = gb.rank(rank);
                EpBuffer ref = cb.rank(rank);
                RoutingCase first = RoutingCase.of(ranks, experts, hidden, topk, tokens, 5);
                try (Tensor x = gpu.upload(rank, first.x(rank)); Tensor idx = gpu.upload(rank, first.topkIdx(rank));
                        Tensor w = gpu.upload(rank, first.topkWeights(rank))) {
                    AtomicReference<DispatchLayout> layout = new AtomicReference<>();
                    AtomicReference<Dispatched> dispatched = new AtomicReference<>();
                    AtomicReference<Combined> combined = new AtomicReference<>();
                    // Inside a capture, a dispatch must be worst-sized: its row count cannot come back.
                    AtomicReference<DispatchLayout> refused = new AtomicReference<>();
                    assertThrows(InvalidArgumentException.class, () -> buf.captureGraph(() -> {
                        refused.set(buf.layout(idx, experts));
                        buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(refused.get()));
                    }).close());
                    refused.get().close();
                    try (EpGraph graph = buf.captureGraph(() -> {
                        DispatchLayout l = buf.layout(idx, experts);
                        Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(l).numWorstTokens(worst));
                        layout.set(l);
                        dispatched.set(d);
                        combined.set(buf.combine(CombineArgs.of(d.x(), d.handle()).topkWeights(d.topkWeights())));
                    })) {
                        for (int i = 0; i < replays; i++) {
                            RoutingCase c = RoutingCase.of(ranks, experts, hidden, topk, tokens, 100 + i).withEmptySlots(0.1);
                            write(gpu, rank, x, c.x(rank));
                            write(gpu, rank, idx, c.topkIdx(rank));
                            write(gpu, rank, w, c.topkWeights(rank));
                            graph.replay().await();
                            byte[] gotX;
                            byte[] gotCombined;
                            try (Tensor hx = gpu.download(dispatched.get().x()); Tensor hc = gpu.download(combined.get().x())) {
                                gotX = hx.toByteArray();
                                gotCombined = hc.toByteArray();
                            }
                            try (Tensor hx = c.x(rank); Tensor hi = c.topkIdx(rank); Tensor hw = c.topkWeights(rank);
                                    DispatchLayout l = ref.layout(hi, experts);
                                    Dispatched d = ref.dispatch(DispatchArgs.of(hx).topk(hi, hw).layout(l).numWorstTokens(worst));
                                    Combined o = ref.combine(CombineArgs.of(d.x(), d.handle()).topkWeights(d.topkWeights()))) {
                                assertArrayEquals(d.x().toByteArray(), gotX, "dispatched x, rank " + rank + ", replay " + i);
                                assertArrayEquals(o.x().toByteArray(), gotCombined, "combined, rank " + rank + ", replay " + i);
                            }
                        }
                    }
                    combined.get().close();
                    dispatched.get().close();
                    layout.get().close();
                }
                return null;
            });
        }
    }
}
