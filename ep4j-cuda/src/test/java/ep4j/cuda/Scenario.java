package ep4j.cuda;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.Config;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs layout, dispatch (fresh, cached, worst-case sized), and combine (with weights and two
 * biases) of one {@link RoutingCase} on a group, and returns every output of every rank as
 * host bytes, so that two backends can be compared bit for bit.
 */
final class Scenario {
    record Options(boolean fp8, int expertAlignment, int numWorstTokens, Config config) {
    }

    private Scenario() {
    }

    static List<Map<String, byte[]>> run(EpGroup group, RoutingCase c, Options o) {
        int maxTokens = java.util.Arrays.stream(c.tokens()).max().orElse(0);
        // numWorstTokens may be at most ranks * maxTokensPerRank (what a rank can receive).
        int worstPerRank = (o.numWorstTokens() + c.ranks() - 1) / c.ranks();
        BufferSpec spec = BufferSpec.normal(c.hidden(), Math.max(Math.max(maxTokens, 1), worstPerRank)).maxTopk(Math.max(c.topk(), 1))
                .timeout(java.time.Duration.ofSeconds(5));
        try (EpBuffers buffers = group.allocate(spec)) {
            return group.onEachRank(rank -> runRank(group, buffers.rank(rank), c, o, rank));
        }
    }

    private static Map<String, byte[]> runRank(EpGroup g, EpBuffer buf, RoutingCase c, Options o, int rank) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        List<Tensor> owned = new ArrayList<>();
        try {
            Tensor x = keep(owned, upload(g, rank, c.x(rank)));
            Tensor idx = keep(owned, upload(g, rank, c.topkIdx(rank)));
            Tensor w = keep(owned, upload(g, rank, c.topkWeights(rank)));
            try (DispatchLayout layout = buf.layout(idx, c.experts())) {
                put(out, g, "layout.tokensPerRank", layout.tokensPerRank());
                put(out, g, "layout.tokensPerExpert", layout.tokensPerExpert());
                put(out, g, "layout.isTokenInRank", layout.isTokenInRank());
                DispatchArgs args;
                if (o.fp8()) {
                    Tensor q = keep(owned, upload(g, rank, c.fp8(rank)));
                    Tensor s = keep(owned, upload(g, rank, c.scales(rank)));
                    args = DispatchArgs.fp8(q, s);
                } else {
                    args = DispatchArgs.of(x);
                }
                args.topk(idx, w).layout(layout).expertAlignment(o.expertAlignment())
                        .numWorstTokens(o.numWorstTokens()).config(o.config());
                try (Dispatched d = buf.dispatch(args)) {
                    put(out, g, "dispatch.x", d.x());
                    if (d.scales() != null) {
                        put(out, g, "dispatch.scales", d.scales());
                    }
                    put(out, g, "dispatch.topkIdx", d.topkIdx());
                    put(out, g, "dispatch.topkWeights", d.topkWeights());
                    put(out, g, "dispatch.tokensPerExpert", d.tokensPerExpert());
                    put(out, g, "handle.sourceToken", d.handle().sourceToken());
                    // Cached dispatch of bf16 tokens: the same routing, no topk.
                    try (Dispatched cached = buf.dispatch(DispatchArgs.of(x).cached(d.handle()).config(o.config()))) {
                        put(out, g, "cached.x", cached.x());
                        // Expert output: the received bf16 rows, combined back with weights and biases.
                        Tensor b0 = keep(owned, upload(g, rank, c.bias(rank, 0)));
                        Tensor b1 = keep(owned, upload(g, rank, c.bias(rank, 1)));
                        try (Combined comb = buf.combine(CombineArgs.of(cached.x(), d.handle())
                                .topkWeights(d.topkWeights()).bias(b0, b1).config(o.config()))) {
                            put(out, g, "combine.x", comb.x());
                            put(out, g, "combine.topkWeights", comb.topkWeights());
                        }
                        try (Combined plain = buf.combine(CombineArgs.of(cached.x(), d.handle()).config(o.config()))) {
                            put(out, g, "combinePlain.x", plain.x());
                        }
                    }
                }
            }
            return out;
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    private static Tensor upload(EpGroup g, int rank, Tensor host) {
        try (host) {
            return g.upload(rank, host);
        }
    }

    private static Tensor keep(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }

    private static void put(Map<String, byte[]> out, EpGroup g, String name, Tensor t) {
        try (Tensor host = g.download(t)) {
            out.put(name, host.toByteArray());
        }
    }
}
