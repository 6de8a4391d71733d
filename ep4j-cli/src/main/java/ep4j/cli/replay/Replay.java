package ep4j.cli.replay;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyCombined;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyDispatched;
import ep4j.Tensor;
import ep4j.cli.npy.Npy;
import ep4j.cli.npy.NpyArray;
import ep4j.cli.npy.NpyType;
import ep4j.codec.BFloat16;
import ep4j.codec.Fp8Mode;
import ep4j.codec.Fp8Quantizer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.stream.Stream;

/**
 * Replays a saved case: layout, normal dispatch (bf16, or fp8 quantized on the host per DESIGN
 * 2.6), normal combine of the received rows as they are, and optionally low-latency dispatch and
 * combine; writes every result as .npy per rank. All ranks run in this JVM on the chosen backend.
 *
 * <p>Output conventions: bf16 tensors are written as float32 holding the bf16 values exactly;
 * counts ({@code recv_tokens_per_expert}, {@code ll_recv_count}) are int32; rows of
 * {@code ll_recv_x} past a local expert's receive count are zero-filled (the backend leaves them
 * undefined). With fp8, the combine inputs are the received rows dequantized
 * ({@code e4m3(q) * scale}, float32) and rounded to bf16 (nearest even).
 */
public final class Replay {
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** What to replay. {@code maxTokens} is the low-latency capacity per rank (0: the largest T). */
    public record Options(boolean fp8, boolean lowLatency, int maxTokens) {
    }

    /** Where the results go: {@link Npy#write}, or a test's stand-in. */
    @FunctionalInterface
    public interface Sink {
        void write(Path file, NpyArray array) throws IOException;
    }

    /** Per rank: tokens in, rows received by normal dispatch, rows received by low-latency dispatch. */
    public record RankSummary(int rank, int tokens, long recvRows, long llRecvRows) {
    }

    private final ReplayMeta meta;
    private final List<RankInput> inputs;
    private final Options options;
    private final int maxTokens;

    private Replay(ReplayMeta meta, List<RankInput> inputs, Options options, int maxTokens) {
        this.meta = meta;
        this.inputs = inputs;
        this.options = options;
        this.maxTokens = maxTokens;
    }

    /** Reads and checks the whole case before anything runs. */
    public static Replay load(Path in, Options options) throws IOException {
        ReplayMeta meta = ReplayMeta.read(in.resolve("meta.json"));
        if (options.fp8() && meta.hidden() % Fp8Quantizer.BLOCK != 0) {
            throw new ReplayException("--fp8 needs hidden to be a multiple of 128; meta.json says " + meta.hidden());
        }
        checkRankFolders(in, meta);
        List<RankInput> inputs = new ArrayList<>();
        int maxT = 0;
        for (int r = 0; r < meta.ranks(); r++) {
            RankInput ri = RankInput.load(in, r, meta);
            inputs.add(ri);
            maxT = Math.max(maxT, ri.tokens());
        }
        int llMax = options.maxTokens() > 0 ? options.maxTokens() : Math.max(1, maxT);
        if (options.lowLatency() && (long) meta.ranks() * llMax > Integer.MAX_VALUE) {
            throw new ReplayException("--max-tokens " + llMax + ": expected at most " + Integer.MAX_VALUE / meta.ranks()
                    + " for \"ranks\" = " + meta.ranks() + " in meta.json (a local expert receives up to ranks x"
                    + " --max-tokens rows, counted in an int)");
        }
        if (options.lowLatency() && llMax < maxT) {
            throw new ReplayException("--max-tokens " + llMax + " is below the largest token count of a rank (" + maxT + ")");
        }
        return new Replay(meta, inputs, options, llMax);
    }

    /** rank0/ to rank{R-1}/ and no other rankN/: the folders must agree with meta.json's ranks. */
    private static void checkRankFolders(Path in, ReplayMeta meta) throws IOException {
        Path file = in.resolve("meta.json");
        String expected = meta.ranks() == 1 ? "expected rank0/ only" : "expected rank0/ to rank" + (meta.ranks() - 1) + "/";
        for (int r = 0; r < meta.ranks(); r++) {
            if (!Files.isDirectory(in.resolve("rank" + r))) {
                throw new ReplayException(file + ": \"ranks\" = " + meta.ranks() + ", but there is no rank" + r + "/ in "
                        + in + " (" + expected + ")");
            }
        }
        try (Stream<Path> entries = Files.list(in)) {
            OptionalInt extra = entries.map(p -> p.getFileName().toString()).filter(n -> n.matches("rank\\d{1,9}"))
                    .mapToInt(n -> Integer.parseInt(n.substring(4))).filter(r -> r >= meta.ranks()).min();
            if (extra.isPresent()) {
                throw new ReplayException(file + ": \"ranks\" = " + meta.ranks() + ", but rank" + extra.getAsInt()
                        + "/ exists too (" + expected + ")");
            }
        }
    }

    public ReplayMeta meta() {
        return meta;
    }

    public int lowLatencyMaxTokens() {
        return maxTokens;
    }

    /** Runs on {@code group} (of meta.ranks ranks) and writes {@code out/rankR/*.npy}. */
    public List<RankSummary> run(EpGroup group, Path out) {
        return run(group, out, Npy::write);
    }

    /** Runs on {@code group} (of meta.ranks ranks) and hands every result to {@code sink} as {@code out/rankR/*.npy}. */
    public List<RankSummary> run(EpGroup group, Path out, Sink sink) {
        if (group.size() != meta.ranks()) {
            throw new ReplayException("group has " + group.size() + " ranks, meta.json says " + meta.ranks());
        }
        int maxT = inputs.stream().mapToInt(RankInput::tokens).max().orElse(0);
        BufferSpec spec = BufferSpec.normal(meta.hidden(), Math.max(1, maxT)).maxTopk(meta.topk());
        if (options.lowLatency()) {
            spec.lowLatency(maxTokens, meta.experts());
        }
        try (EpBuffers buffers = group.allocate(spec)) {
            return group.onEachRank(r -> runRank(group, buffers.rank(r), inputs.get(r), out.resolve("rank" + r), sink));
        }
    }

    private RankSummary runRank(EpGroup group, EpBuffer buf, RankInput in, Path dir, Sink sink) throws IOException {
        int r = in.rank();
        int t = in.tokens();
        int h = meta.hidden();
        int k = meta.topk();
        long recvRows;
        long llRows = 0;
        try (Tensor hx = Tensor.allocateHost(DType.BF16, t, h);
             Tensor hidx = Tensor.ofLongs(in.topkIdx(), t, k);
             Tensor hw = Tensor.ofFloats(in.topkWeights(), t, k);
             Tensor x = group.upload(r, copyInto(in.xBf16(), hx));
             Tensor idx = group.upload(r, hidx);
             Tensor w = group.upload(r, hw)) {
            try (DispatchLayout layout = buf.layout(idx, meta.experts())) {
                DispatchArgs args;
                Tensor q = null;
                Tensor s = null;
                if (options.fp8()) {
                    try (Tensor hq = Tensor.allocateHost(DType.FP8_E4M3, t, h);
                         Tensor hs = Tensor.allocateHost(DType.FLOAT32, t, h / Fp8Quantizer.BLOCK)) {
                        Fp8Quantizer.quantize(hx.segment(), t, h, Fp8Mode.DEFAULT, hq.segment(), hs.segment());
                        q = group.upload(r, hq);
                        s = group.upload(r, hs);
                    }
                    args = DispatchArgs.fp8(q, s);
                } else {
                    args = DispatchArgs.of(x);
                }
                try (Tensor qq = q; Tensor ss = s;
                     Dispatched d = buf.dispatch(args.topk(idx, w).layout(layout))) {
                    recvRows = d.numRows();
                    Tensor combineIn;
                    if (options.fp8()) {
                        try (Tensor rq = group.download(d.x()); Tensor rs = group.download(d.scales())) {
                            sink.write(dir.resolve("recv_x_fp8.npy"),
                                    copy(NpyType.UINT8, rq.segment(), recvRows, h));
                            sink.write(dir.resolve("recv_scales.npy"),
                                    copy(NpyType.FLOAT32, rs.segment(), recvRows, h / Fp8Quantizer.BLOCK));
                            try (Tensor deq = dequantizeToBf16(rq, rs, recvRows, h)) {
                                combineIn = group.upload(r, deq);
                            }
                        }
                    } else {
                        try (Tensor rx = group.download(d.x())) {
                            sink.write(dir.resolve("recv_x.npy"), bf16ToF32(rx.segment(), recvRows, h));
                        }
                        combineIn = d.x();
                    }
                    try (Tensor ri = group.download(d.topkIdx());
                         Tensor rw = group.download(d.topkWeights());
                         Tensor tpe = group.download(d.tokensPerExpert())) {
                        sink.write(dir.resolve("recv_topk_idx.npy"), copy(NpyType.INT64, ri.segment(), recvRows, k));
                        sink.write(dir.resolve("recv_topk_weights.npy"), copy(NpyType.FLOAT32, rw.segment(), recvRows, k));
                        sink.write(dir.resolve("recv_tokens_per_expert.npy"),
                                NpyArray.ofInts(tpe.toIntArray(), meta.localExperts()));
                    }
                    try (Combined c = buf.combine(CombineArgs.of(combineIn, d.handle()))) {
                        try (Tensor cx = group.download(c.x())) {
                            sink.write(dir.resolve("combined_x.npy"), bf16ToF32(cx.segment(), t, h));
                        }
                    } finally {
                        if (combineIn != d.x()) {
                            combineIn.close();
                        }
                    }
                }
            }
            if (options.lowLatency()) {
                llRows = lowLatency(group, buf, r, t, x, idx, w, dir, sink);
            }
        }
        return new RankSummary(r, t, recvRows, llRows);
    }

    private long lowLatency(EpGroup group, EpBuffer buf, int r, int t, Tensor x, Tensor idx, Tensor w, Path dir,
            Sink sink) throws IOException {
        int h = meta.hidden();
        int l = meta.localExperts();
        long cap = (long) meta.ranks() * maxTokens;
        LowLatencyDispatchArgs args = LowLatencyDispatchArgs.of(x, idx, meta.experts());
        if (options.fp8()) {
            args.fp8();
        }
        LowLatencyDispatched d = buf.lowLatencyDispatch(args);
        int[] counts;
        try (Tensor c = group.download(d.recvCount())) {
            counts = c.toIntArray();
        }
        sink.write(dir.resolve("ll_recv_count.npy"), NpyArray.ofInts(counts, l));
        long rows = 0;
        for (int c : counts) {
            rows += c;
        }
        Tensor y;
        if (options.fp8()) {
            int sb = h / Fp8Quantizer.BLOCK;
            try (Tensor rq = group.download(d.x()); Tensor rs = group.download(d.scales())) {
                NpyArray q = NpyArray.allocate(NpyType.UINT8, l, cap, h);
                NpyArray s = NpyArray.allocate(NpyType.FLOAT32, l, cap, sb);
                try (Tensor yh = Tensor.allocateHost(DType.BF16, l, cap, h)) {
                    for (int e = 0; e < l; e++) {
                        long rowsOf = counts[e];
                        MemorySegment.copy(rq.segment(), e * cap * h, q.data(), e * cap * h, rowsOf * h);
                        MemorySegment.copy(rs.segment(), e * cap * sb * 4, s.data(), e * cap * sb * 4, rowsOf * sb * 4);
                        dequantizeRows(q.data(), e * cap * h, s.data(), e * cap * sb * 4, rowsOf, h,
                                yh.segment(), e * cap * h * 2);
                    }
                    sink.write(dir.resolve("ll_recv_x_fp8.npy"), q);
                    sink.write(dir.resolve("ll_recv_scales.npy"), s);
                    y = group.upload(r, yh);
                }
            }
        } else {
            try (Tensor rx = group.download(d.x()); Tensor yh = Tensor.allocateHost(DType.BF16, l, cap, h)) {
                for (int e = 0; e < l; e++) {
                    MemorySegment.copy(rx.segment(), e * cap * h * 2, yh.segment(), e * cap * h * 2, counts[e] * (long) h * 2);
                }
                sink.write(dir.resolve("ll_recv_x.npy"), reshape(bf16ToF32(yh.segment(), l * cap, h), l, cap, h));
                y = group.upload(r, yh);
            }
        }
        try (y; LowLatencyCombined c = buf.lowLatencyCombine(LowLatencyCombineArgs.of(y, idx, w, d.handle()));
             Tensor cx = group.download(c.x())) {
            sink.write(dir.resolve("ll_combined_x.npy"), bf16ToF32(cx.segment(), t, h));
        }
        return rows;
    }

    private static Tensor copyInto(MemorySegment src, Tensor dst) {
        MemorySegment.copy(src, 0, dst.segment(), 0, dst.byteSize());
        return dst;
    }

    private static NpyArray copy(NpyType type, MemorySegment src, long rows, long cols) {
        NpyArray a = NpyArray.allocate(type, rows, cols);
        MemorySegment.copy(src, 0, a.data(), 0, a.data().byteSize());
        return a;
    }

    private static NpyArray reshape(NpyArray a, long... shape) {
        return NpyArray.wrap(a.type(), a.data(), shape);
    }

    /** bf16 {@code [rows, cols]} widened to float32 (exact). */
    static NpyArray bf16ToF32(MemorySegment bf16, long rows, long cols) {
        NpyArray a = NpyArray.allocate(NpyType.FLOAT32, rows, cols);
        MemorySegment dst = a.data();
        long n = rows * cols;
        for (long i = 0; i < n; i++) {
            dst.setAtIndex(F32, i, BFloat16.toFloat(bf16.getAtIndex(BF16, i)));
        }
        return a;
    }

    private static Tensor dequantizeToBf16(Tensor q, Tensor scales, long rows, int h) {
        Tensor out = Tensor.allocateHost(DType.BF16, rows, h);
        dequantizeRows(q.segment(), 0, scales.segment(), 0, rows, h, out.segment(), 0);
        return out;
    }

    /** Rows of fp8 + float32 scales to bf16: {@code bf16(e4m3(q) * scale)}. */
    static void dequantizeRows(MemorySegment q, long qOff, MemorySegment s, long sOff, long rows, int h,
            MemorySegment out, long outOff) {
        MemorySegment row = java.lang.foreign.Arena.ofAuto().allocate(4L * h, 64);
        int sb = h / Fp8Quantizer.BLOCK;
        for (long i = 0; i < rows; i++) {
            Fp8Quantizer.dequantizeRow(q, qOff + i * h, h, Fp8Mode.DEFAULT, s, sOff + i * sb * 4L, row, 0);
            for (int c = 0; c < h; c++) {
                out.set(BF16, outOff + (i * h + c) * 2, BFloat16.fromFloat(row.getAtIndex(F32, c)));
            }
        }
    }

    /** A description of the outputs, written as replay.json. */
    public Map<String, Object> describe(List<RankSummary> summaries) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ranks", meta.ranks());
        m.put("experts", meta.experts());
        m.put("hidden", meta.hidden());
        m.put("topk", meta.topk());
        m.put("fp8", options.fp8());
        m.put("low_latency", options.lowLatency());
        if (options.lowLatency()) {
            m.put("max_tokens", maxTokens);
        }
        Map<String, Object> files = new LinkedHashMap<>();
        if (options.fp8()) {
            files.put("recv_x_fp8.npy", "uint8 [Nrecv, H]: received e4m3 bytes");
            files.put("recv_scales.npy", "float32 [Nrecv, H/128]: received scales (amax/448)");
        } else {
            files.put("recv_x.npy", "float32 [Nrecv, H]: received rows (bf16 values)");
        }
        files.put("recv_topk_idx.npy", "int64 [Nrecv, K]: local expert index, or -1");
        files.put("recv_topk_weights.npy", "float32 [Nrecv, K]: weight where the index is kept, else 0");
        files.put("recv_tokens_per_expert.npy", "int32 [L]: received tokens per local expert");
        files.put("combined_x.npy", "float32 [T, H] (bf16 values): combine of the received rows as they are"
                + (options.fp8() ? " (dequantized and rounded to bf16)" : "") + ", no weights, no bias");
        if (options.lowLatency()) {
            if (options.fp8()) {
                files.put("ll_recv_x_fp8.npy", "uint8 [L, R*N, H]: rows past ll_recv_count zero-filled");
                files.put("ll_recv_scales.npy", "float32 [L, R*N, H/128]: rows past ll_recv_count zero-filled");
            } else {
                files.put("ll_recv_x.npy", "float32 [L, R*N, H] (bf16 values): rows past ll_recv_count zero-filled");
            }
            files.put("ll_recv_count.npy", "int32 [L]: valid rows per local expert");
            files.put("ll_combined_x.npy", "float32 [T, H] (bf16 values): low-latency combine of the received rows"
                    + (options.fp8() ? " (dequantized, rounded to bf16)" : "") + " with topk_weights");
        }
        m.put("files", files);
        List<Object> ranks = new ArrayList<>();
        for (RankSummary s : summaries) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("rank", s.rank());
            r.put("tokens", s.tokens());
            r.put("recv_rows", s.recvRows());
            if (options.lowLatency()) {
                r.put("ll_recv_rows", s.llRecvRows());
            }
            ranks.add(r);
        }
        m.put("per_rank", ranks);
        return m;
    }
}
