package ep4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ep4j.BufferSpec;
import ep4j.DType;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.Driver;
import ep4j.oracle.Cases;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GPU low-latency dispatch and combine against the CPU backend, bit for bit: every output of
 * a sequence of calls that alternates the two slots, overlaps two dispatches through hooks,
 * combines twice on one slot, uses zero-copy, and cycles bf16 / fp8 / roundScale / UE8M0.
 * Compared: recvX and scales (rows below recvCount), recvCount, sourceToken, ranges, combined
 * output, and handle staleness.
 */
@Tag("gpu")
class LowLatencyGpuTest {
    private static final List<EpGroup> GPU = new ArrayList<>();
    private static final List<EpGroup> CPU = new ArrayList<>();

    /** How the four dispatches of a scenario quantize: 0 bf16, 1 fp8, 2 roundScale, 3 UE8M0. */
    record Modes(int a, int b, int c, boolean hookA, boolean hookCombine) {
    }

    @BeforeAll
    static void groups() {
        GpuRequired.backend(1, 1);
        int gpus = Math.min(Driver.deviceCount(), 8);
        for (int r : rankChoices(gpus)) {
            GPU.add(EpGroup.localGpus(r, Math.min(r, gpus)));
            CPU.add(EpGroup.cpu(r));
        }
    }

    /**
     * One GPU, two and every GPU, one rank per GPU; and 4 ranks, sharing GPUs where there are
     * fewer (the kernels of ranks that share a GPU split its SMs and fit at once).
     */
    static int[] rankChoices(int gpus) {
        // EP4J_TEST_RANKS=1,2 runs only those group sizes (to split a long device run).
        String only = System.getenv("EP4J_TEST_RANKS");
        return IntStream.of(1, 2, gpus, 4).filter(r -> r <= Math.max(gpus, 4))
                .filter(r -> only == null || java.util.Arrays.asList(only.split(",")).contains(String.valueOf(r)))
                .distinct().sorted().toArray();
    }

    @AfterAll
    static void close() {
        GPU.forEach(EpGroup::close);
        CPU.forEach(EpGroup::close);
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        int gpus = Driver.isAvailable() ? Math.min(Driver.deviceCount(), 8) : 1;
        long seed = 100;
        for (int r : rankChoices(gpus)) {
            int[] ramp = IntStream.range(0, r).map(i -> i == 0 ? 0 : Math.min(128, 37 * i)).toArray();
            int[] full = IntStream.range(0, r).map(i -> 128).toArray();
            // The decoding shape: 128 tokens, H 7168, top-8 of 256 (smaller hidden past two ranks,
            // to keep the CPU reference's host memory moderate).
            int e256 = 256 / r * r;
            int h = r <= 2 ? 7168 : 2048;
            out.add(Arguments.of(Cases.options().ranks(r).experts(e256).hidden(h).topk(8).tokens(128).seed(seed++)
                    .generate(), 128, new Modes(1, 0, 3, false, false), false));
            out.add(Arguments.of(Cases.options().ranks(r).experts(e256).hidden(h).topk(8).tokens(full)
                    .minusOne(0.2).duplicates(0.2).seed(seed++).generate(), 128, new Modes(2, 3, 1, true, true), true));
            // T from 0 to N, uneven per rank, -1 slots and duplicates, small and odd hidden sizes.
            out.add(Arguments.of(Cases.options().ranks(r).experts(8 * r).hidden(256).topk(4).tokens(ramp)
                    .minusOne(0.3).duplicates(0.3).seed(seed++).generate(), 128, new Modes(0, 1, 2, true, false), false));
            out.add(Arguments.of(Cases.options().ranks(r).experts(4 * r).hidden(640).topk(9).tokens(17)
                    .minusOne(0.1).duplicates(0.5).seed(seed++).generate(), 20, new Modes(3, 0, 1, false, true), false));
            out.add(Arguments.of(Cases.options().ranks(r).experts(r).hidden(128).topk(1).tokens(0).seed(seed++)
                    .generate(), 4, new Modes(1, 3, 0, true, true), false));
            out.add(Arguments.of(Cases.options().ranks(r).experts(2 * r).hidden(1160).topk(2).tokens(5).seed(seed++)
                    .generate(), 5, new Modes(0, 0, 0, false, false), false));
            out.add(Arguments.of(Cases.options().ranks(r).experts(64 * r).hidden(2048).topk(6).tokens(64)
                    .unbalanced(0).seed(seed++).generate(), 64, new Modes(1, 2, 3, true, false), true));
            out.add(Arguments.of(Cases.options().ranks(r).experts(64 * r).hidden(2048).topk(16).tokens(50)
                    .minusOne(0.05).duplicates(0.05).allowedExperts(e -> e % 3 != 0).seed(seed++).generate(), 64,
                    new Modes(3, 2, 0, false, true), false));
            // More top-k slots than the send half stages in shared memory (kLlStagedTopk = 8192):
            // the lists and rows read the top-k from global memory.
            out.add(Arguments.of(Cases.options().ranks(r).experts(16 * r).hidden(256).topk(8).tokens(1100)
                    .minusOne(0.1).duplicates(0.1).seed(seed++).generate(), 1100, new Modes(1, 0, 2, false, true),
                    false));
            // Top-k around and past one warp's lanes.
            for (int k : new int[] {31, 32, 33, 64}) {
                out.add(Arguments.of(Cases.options().ranks(r).experts(64 * r).hidden(1024).topk(k).tokens(23)
                        .minusOne(0.1).duplicates(0.1).seed(seed++).generate(), 32, new Modes(1, 0, 3, k == 33, k == 64),
                        false));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} N={1} {2} special={3}")
    @MethodSource("cases")
    void lowLatencyMatchesTheCpuBackendBitForBit(Cases.Case c, int maxTokens, Modes modes, boolean special) {
        if (special) {
            addSpecialValues(c);
        }
        EpGroup gpu = GPU.stream().filter(g -> g.size() == c.ranks).findFirst().orElseThrow();
        EpGroup cpu = CPU.stream().filter(g -> g.size() == c.ranks).findFirst().orElseThrow();
        List<Map<String, byte[]>> expected = run(cpu, c, maxTokens, modes);
        List<Map<String, byte[]>> actual = run(gpu, c, maxTokens, modes);
        for (int r = 0; r < c.ranks; r++) {
            assertEquals(expected.get(r).keySet(), actual.get(r).keySet(), "outputs of rank " + r);
            for (String name : expected.get(r).keySet()) {
                assertArrayEquals(expected.get(r).get(name), actual.get(r).get(name),
                        name + " of rank " + r + " for " + c + " modes " + modes);
            }
        }
    }

    /** NaN, infinities, zeros and tiny values in rank 0's first token (blocks of 128 channels). */
    private static void addSpecialValues(Cases.Case c) {
        if (c.tokens[0] == 0 || c.hidden < 512) {
            return;
        }
        short[] x = c.x[0];
        x[3] = (short) 0x7FC0; // NaN in block 0
        x[5] = (short) 0xFFC1; // negative NaN
        for (int i = 128; i < 256; i++) {
            x[i] = (short) (i % 2 == 0 ? 0x0000 : 0x8000); // block 1: all zeros of both signs
        }
        x[256 + 7] = (short) 0x7F80; // +Inf in block 2
        x[256 + 9] = (short) 0xFF80; // -Inf
        for (int i = 384; i < 512; i++) {
            x[i] = (short) (0x0001 + (i & 0x3F)); // block 3: bf16 subnormals
        }
        x[384] = (short) 0x7F7F; // largest bf16 next to them
    }

    /**
     * Every row of a combine input, random: the big cases have 32768 rows of 7168 channels, so one
     * random long makes four values (drawing each value apart took most of the test's time).
     */
    private static Tensor hostY(Cases.Case c, int rank, int maxTokens, long salt) {
        int local = c.localExperts();
        Tensor y = Tensor.allocateHost(DType.BF16, local, (long) c.ranks * maxTokens, c.hidden);
        MemorySegment seg = y.segment();
        long n = y.numel();
        SplittableRandom rnd = new SplittableRandom(salt * 7_777_777L + rank);
        for (long i = 0; i < n; i += 4) {
            long r = rnd.nextLong();
            for (long j = i; j < Math.min(n, i + 4); j++, r >>>= 16) {
                seg.setAtIndex(ValueLayout.JAVA_SHORT, j, bf16((int) r & 0xFFFF));
            }
        }
        return y;
    }

    /** +-(1 + m / 128) * 2^e from 16 random bits: m in [0, 128), e in [-8, 8]; never 0, NaN or infinite. */
    private static short bf16(int bits) {
        int mantissa = bits & 0x7F;
        int exponent = ((bits >>> 7) & 0x1F) % 17 - 8;
        int sign = (bits >>> 12) & 1;
        return (short) (sign << 15 | (127 + exponent) << 7 | mantissa);
    }

    private static LowLatencyDispatchArgs args(Tensor x, Tensor idx, int experts, int mode, boolean hook) {
        LowLatencyDispatchArgs a = LowLatencyDispatchArgs.of(x, idx, experts).returnRecvHook(hook);
        return switch (mode) {
            case 1 -> a.fp8();
            case 2 -> a.fp8(true, false);
            case 3 -> a.fp8(false, true);
            default -> a;
        };
    }

    static List<Map<String, byte[]>> run(EpGroup group, Cases.Case c, int maxTokens, Modes m) {
        BufferSpec spec = BufferSpec.normal(c.hidden, 1).lowLatency(maxTokens, c.experts).maxTopk(Math.max(c.topk, 1))
                .timeout(Duration.ofSeconds(10));
        try (EpBuffers buffers = group.allocate(spec)) {
            return group.onEachRank(rank -> runRank(group, buffers.rank(rank), c, maxTokens, m, rank));
        }
    }

    private static Map<String, byte[]> runRank(EpGroup g, EpBuffer buf, Cases.Case c, int maxTokens, Modes m, int rank) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            Tensor x = keep(owned, upload(g, rank, c.x(rank)));
            Tensor idx = keep(owned, upload(g, rank, c.topkIdx(rank)));
            Tensor idx32 = keep(owned, upload(g, rank, c.topkIdxInt32(rank)));
            Tensor w = keep(owned, upload(g, rank, c.topkWeights(rank)));
            Tensor yA = keep(owned, upload(g, rank, hostY(c, rank, maxTokens, 1)));
            Tensor yB = keep(owned, upload(g, rank, hostY(c, rank, maxTokens, 2)));
            Tensor yC = keep(owned, upload(g, rank, hostY(c, rank, maxTokens, 3)));
            Tensor target = keep(owned, g.allocate(rank, DType.BF16, c.tokens[rank], c.hidden));

            // Two dispatches in flight (both slots), received out of order through hooks.
            LowLatencyDispatched dA = buf.lowLatencyDispatch(args(x, idx, c.experts, m.a(), m.hookA()));
            LowLatencyDispatched dB = buf.lowLatencyDispatch(args(x, idx32, c.experts, m.b(), true));
            dB.hook().receive().await();
            if (m.hookA()) {
                assertThrows(IllegalStateException.class, dA::recvCount);
                dA.hook().receive().await();
                dA.hook().receive().await(); // harmless twice
            }
            record(out, g, "A", dA, c, maxTokens);
            record(out, g, "B", dB, c, maxTokens);

            // Combine A from a plain tensor, B zero-copy from the buffer's own input.
            LowLatencyCombined cA = buf.lowLatencyCombine(
                    LowLatencyCombineArgs.of(yA, idx, w, dA.handle()).returnRecvHook(m.hookCombine()));
            owned.add(cA);
            if (m.hookCombine()) {
                cA.hook().receive().await();
            }
            put(out, g, "combineA", cA.x());
            Tensor in = buf.lowLatencyCombineInput(dB.handle());
            copyInto(g, rank, in, yB);
            try (LowLatencyCombined cB = buf.lowLatencyCombine(
                    LowLatencyCombineArgs.of(in, idx32, w, dB.handle()).zeroCopy(true))) {
                put(out, g, "combineB", cB.x());
            }

            // A third dispatch takes A's slot: A's handle is stale, B's still alive.
            LowLatencyDispatched dC = buf.lowLatencyDispatch(args(x, idx, c.experts, m.c(), false));
            out.put("stale", new byte[] {(byte) (dA.handle().isValid() ? 1 : 0), (byte) (dB.handle().isValid() ? 1 : 0)});
            record(out, g, "C", dC, c, maxTokens);
            // Allocated up front and freed after the last call: cuMemFree waits for every kernel on
            // the GPU, and where ranks share one, another rank's kernel may be waiting for this
            // rank's next call (the rule in StressGpuTest's comment).
            try (LowLatencyCombined cC = buf.lowLatencyCombine(
                            LowLatencyCombineArgs.of(yC, idx, w, dC.handle()).out(target).returnRecvHook(true))) {
                cC.hook().receive().await();
                put(out, g, "combineC", target);
            }
            // A second combine on B's slot.
            try (LowLatencyCombined cB2 = buf.lowLatencyCombine(LowLatencyCombineArgs.of(yA, idx, w, dB.handle()))) {
                put(out, g, "combineB2", cB2.x());
            }
            return out;
        } finally {
            for (AutoCloseable a : owned) {
                try {
                    a.close();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }
        }
    }

    private static void record(Map<String, byte[]> out, EpGroup g, String name, LowLatencyDispatched d, Cases.Case c,
            int maxTokens) {
        int[] counts;
        try (Tensor host = g.download(d.recvCount())) {
            counts = host.toIntArray();
            out.put(name + ".recvCount", host.toByteArray());
        }
        long capacity = (long) c.ranks * maxTokens;
        out.put(name + ".x", validRows(g, d.x(), counts, capacity));
        if (d.scales() != null) {
            out.put(name + ".scales", validRows(g, d.scales(), counts, capacity));
        }
        put(out, g, name + ".sourceToken", d.handle().sourceToken());
        put(out, g, name + ".ranges", d.handle().ranges());
    }

    /** Rows below recvCount of every local expert (rows past it are undefined). */
    private static byte[] validRows(EpGroup g, Tensor t, int[] counts, long capacity) {
        try (Tensor host = g.download(t)) {
            byte[] all = host.toByteArray();
            long rowBytes = all.length / (counts.length * capacity);
            java.io.ByteArrayOutputStream o = new java.io.ByteArrayOutputStream();
            for (int le = 0; le < counts.length; le++) {
                o.write(all, (int) (le * capacity * rowBytes), (int) (counts[le] * rowBytes));
            }
            return o.toByteArray();
        }
    }

    private static void copyInto(EpGroup g, int rank, Tensor dst, Tensor src) {
        if (dst.isHost()) {
            MemorySegment.copy(src.segment(), 0, dst.segment(), 0, src.byteSize());
        } else {
            DeviceMemory.copy(((CudaGroup) g).context(rank), dst.address(), src.address(), src.byteSize());
        }
    }

    // ------------------------------------------------------------------------------------ errors

    @Test
    void anExpertOutOfRangeIsReportedAndTheBufferStaysUsable() {
        EpGroup gpu = GPU.stream().filter(g -> g.size() == 1).findFirst().orElseThrow();
        BufferSpec spec = BufferSpec.normal(256, 1).lowLatency(8, 4).timeout(Duration.ofSeconds(5));
        try (EpBuffers buffers = gpu.allocate(spec);
                Tensor x = upload(gpu, 0, Cases.options().ranks(1).experts(4).hidden(256).topk(2).tokens(3)
                        .generate().x(0));
                Tensor bad = upload(gpu, 0, Tensor.ofLongs(new long[] {0, 1, 2, 4, -1, 3}, 3, 2));
                Tensor good = upload(gpu, 0, Tensor.ofLongs(new long[] {0, 1, 2, 3, -1, 3}, 3, 2))) {
            EpBuffer buf = buffers.rank(0);
            assertThrows(InvalidArgumentException.class, () -> buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, bad, 4)));
            LowLatencyDispatched d = buf.lowLatencyDispatch(LowLatencyDispatchArgs.of(x, good, 4));
            try (Tensor counts = gpu.download(d.recvCount())) {
                assertArrayEquals(new int[] {1, 1, 1, 2}, counts.toIntArray());
            }
        }
    }

    // ------------------------------------------------------------------------------------ helpers

    private static Tensor upload(EpGroup g, int rank, Tensor host) {
        try (host) {
            return g.upload(rank, host);
        }
    }

    private static Tensor keep(List<AutoCloseable> owned, Tensor t) {
        owned.add(t);
        return t;
    }

    private static void put(Map<String, byte[]> out, EpGroup g, String name, Tensor t) {
        try (Tensor host = g.download(t)) {
            out.put(name, host.toByteArray());
        }
    }
}
