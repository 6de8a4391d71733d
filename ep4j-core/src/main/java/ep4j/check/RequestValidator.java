package ep4j.check;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.DType;
import ep4j.DispatchArgs;
import ep4j.DispatchHandle;
import ep4j.DispatchLayout;
import ep4j.EpBuffer;
import ep4j.InvalidArgumentException;
import ep4j.LowLatencyCombineArgs;
import ep4j.LowLatencyDispatchArgs;
import ep4j.LowLatencyHandle;
import ep4j.Tensor;

/**
 * Everything a call can be checked for without reading device memory, shared by all backends
 * so that a bad call gets the same exception on each, before anything changes. Checks of
 * content on a device (an expert index out of range) are the kernels' (DESIGN 5).
 */
public final class RequestValidator {
    private final EpBuffer buffer;
    private final int ranks;
    private final int device;
    private final BufferSpec spec;

    /**
     * @param buffer the buffer whose handles are accepted (null: no handle is)
     * @param device where this rank's tensors must live ({@link Tensor#HOST} for the CPU backend)
     */
    public RequestValidator(EpBuffer buffer, int ranks, int device, BufferSpec spec) {
        this.buffer = buffer;
        this.ranks = ranks;
        this.device = device;
        this.spec = spec;
    }

    /** Experts per rank, after checking {@code numExperts}. */
    public int localExperts(String name, int numExperts) {
        Checks.positive(name, numExperts);
        if (numExperts % ranks != 0) {
            throw new InvalidArgumentException(name, numExperts, "a multiple of the group size " + ranks);
        }
        return numExperts / ranks;
    }

    /** Checks a topk index tensor {@code [T, K]} and returns T. */
    public int topkIdx(String name, Tensor idx) {
        Checks.dtype(name, idx, DType.INT64, DType.INT32);
        Checks.shape(name, idx, -1, -1);
        Checks.device(name, idx, device);
        Checks.atMost(name + ".shape[0]", idx.dim(0), spec.maxTokensPerRank(), "BufferSpec maxTokensPerRank");
        Checks.atMost(name + ".shape[1]", idx.dim(1), spec.maxTopk(), "BufferSpec maxTopk");
        return (int) idx.dim(0);
    }

    public void layout(Tensor topkIdx, int numExperts) {
        topkIdx("topkIdx", topkIdx);
        localExperts("numExperts", numExperts);
    }

    public void dispatch(DispatchArgs a) {
        Tensor x = tokens("x", a.x(), a.isFp8() ? DType.FP8_E4M3 : DType.BF16, spec.maxTokensPerRank(),
                "BufferSpec maxTokensPerRank");
        int t = (int) x.dim(0);
        if (a.isFp8()) {
            scales("scales", a.scales(), t);
        }
        if (a.expertAlignment() < 1) {
            throw new InvalidArgumentException("expertAlignment", a.expertAlignment(), "a value >= 1");
        }
        long maxRows = (long) ranks * spec.maxTokensPerRank();
        if (a.numWorstTokens() < 0 || a.numWorstTokens() > maxRows) {
            throw new InvalidArgumentException("numWorstTokens", a.numWorstTokens(),
                    "0 (exact size) or a row count of 1 to " + maxRows + " (the most rows a rank can receive: "
                            + ranks + " ranks x BufferSpec maxTokensPerRank " + spec.maxTokensPerRank() + ")");
        }
        DispatchHandle h = a.cachedHandle();
        if (h != null) {
            handle("handle", h);
            if (a.topkIdx() != null || a.layout() != null) {
                throw new InvalidArgumentException("topk/layout", "given with a cached handle",
                        "either a cached handle or fresh routing, not both");
            }
            if (h.numTokens() != t) {
                throw new InvalidArgumentException("x.shape[0]", t, h.numTokens() + " tokens, as in the cached dispatch");
            }
            return;
        }
        DispatchLayout layout = a.layout();
        if (layout == null || layout.isClosed()) {
            throw new InvalidArgumentException("layout", layout == null ? null : "closed",
                    "an open DispatchLayout from layout(topkIdx, numExperts), or a cached handle");
        }
        localExperts("layout.numExperts", layout.numExperts());
        if (layout.numTokens() != t) {
            throw new InvalidArgumentException("layout.numTokens", layout.numTokens(), t + " (x.shape[0])");
        }
        Checks.device("layout.isTokenInRank", layout.isTokenInRank(), device);
        if (a.topkIdx() != null) {
            int tk = topkIdx("topkIdx", a.topkIdx());
            if (tk != t) {
                throw new InvalidArgumentException("topkIdx.shape[0]", tk, t + " (x.shape[0])");
            }
        }
        if (a.topkWeights() != null) {
            if (a.topkIdx() == null) {
                throw new InvalidArgumentException("topkIdx", null, "topk indices with the topk weights");
            }
            weights("topkWeights", a.topkWeights(), t, a.topkIdx().dim(1));
        }
    }

    public void combine(CombineArgs a) {
        DispatchHandle h = a.handle();
        handle("handle", h);
        Checks.dtype("x", a.x(), DType.BF16);
        Checks.shape("x", a.x(), h.numRows(), spec.hidden());
        Checks.device("x", a.x(), device);
        if (a.topkWeights() != null) {
            Checks.dtype("topkWeights", a.topkWeights(), DType.FLOAT32);
            Checks.shape("topkWeights", a.topkWeights(), h.numRows(), -1);
            Checks.device("topkWeights", a.topkWeights(), device);
        }
        for (String name : new String[] {"bias0", "bias1"}) {
            Tensor b = name.equals("bias0") ? a.bias0() : a.bias1();
            if (b != null) {
                Checks.dtype(name, b, DType.BF16);
                Checks.shape(name, b, h.numTokens(), spec.hidden());
                Checks.device(name, b, device);
            }
        }
    }

    /** Returns the number of local experts. */
    public int lowLatencyDispatch(LowLatencyDispatchArgs a) {
        requireLowLatency();
        if ((long) ranks * spec.lowLatencyMaxTokensPerRank() > Integer.MAX_VALUE) {
            throw new InvalidArgumentException("BufferSpec lowLatency maxTokensPerRank", spec.lowLatencyMaxTokensPerRank(),
                    "at most " + Integer.MAX_VALUE / ranks + " for " + ranks + " ranks (a local expert receives up to"
                            + " ranks x maxTokensPerRank rows, counted in an int)");
        }
        Tensor x = tokens("x", a.x(), DType.BF16, spec.lowLatencyMaxTokensPerRank(),
                "BufferSpec lowLatency maxTokensPerRank");
        Checks.dtype("topkIdx", a.topkIdx(), DType.INT64, DType.INT32);
        Checks.shape("topkIdx", a.topkIdx(), x.dim(0), -1);
        Checks.device("topkIdx", a.topkIdx(), device);
        Checks.atMost("topkIdx.shape[1]", a.topkIdx().dim(1), spec.maxTopk(), "BufferSpec maxTopk");
        if (a.numExperts() != spec.lowLatencyExperts()) {
            throw new InvalidArgumentException("numExperts", a.numExperts(),
                    spec.lowLatencyExperts() + " (the buffer's BufferSpec lowLatency numExperts)");
        }
        if (a.useFp8() && spec.hidden() % 128 != 0) {
            throw new InvalidArgumentException("hidden", spec.hidden(), "a multiple of 128 for fp8 (one scale per 128 channels)");
        }
        return localExperts("numExperts", a.numExperts());
    }

    public void lowLatencyCombine(LowLatencyCombineArgs a) {
        requireLowLatency();
        LowLatencyHandle h = a.handle();
        if (h == null || !h.belongsTo(buffer)) {
            throw new InvalidArgumentException("handle", h == null ? null : "a handle of another buffer",
                    "a LowLatencyHandle made by this buffer");
        }
        if (!h.isValid()) {
            throw new InvalidArgumentException("handle", "stale (generation " + h.generation() + ")",
                    "a handle of one of the last two low-latency dispatches");
        }
        int local = h.numExperts() / ranks;
        long rowsPerExpert = (long) ranks * spec.lowLatencyMaxTokensPerRank();
        Checks.dtype("y", a.y(), DType.BF16);
        Checks.shape("y", a.y(), local, rowsPerExpert, spec.hidden());
        Checks.device("y", a.y(), device);
        Checks.dtype("topkIdx", a.topkIdx(), DType.INT64, DType.INT32);
        Checks.shape("topkIdx", a.topkIdx(), h.numTokens(), -1);
        Checks.device("topkIdx", a.topkIdx(), device);
        Checks.dtype("topkWeights", a.topkWeights(), DType.FLOAT32);
        Checks.shape("topkWeights", a.topkWeights(), h.numTokens(), a.topkIdx().dim(1));
        Checks.device("topkWeights", a.topkWeights(), device);
        if (a.out() != null) {
            Checks.dtype("out", a.out(), DType.BF16);
            Checks.shape("out", a.out(), h.numTokens(), spec.hidden());
            Checks.device("out", a.out(), device);
        }
    }

    private void requireLowLatency() {
        if (!spec.hasLowLatency()) {
            throw new InvalidArgumentException("BufferSpec.lowLatency", "not set",
                    "a buffer made with BufferSpec...lowLatency(maxTokensPerRank, numExperts)");
        }
    }

    private Tensor tokens(String name, Tensor x, DType dtype, int maxTokens, String limit) {
        Checks.dtype(name, x, dtype);
        Checks.shape(name, x, -1, spec.hidden());
        Checks.device(name, x, device);
        Checks.atMost(name + ".shape[0]", x.dim(0), maxTokens, limit);
        if (dtype == DType.FP8_E4M3 && spec.hidden() % 128 != 0) {
            throw new InvalidArgumentException("hidden", spec.hidden(), "a multiple of 128 for fp8 (one scale per 128 channels)");
        }
        return x;
    }

    private void scales(String name, Tensor s, int tokens) {
        Checks.dtype(name, s, DType.FLOAT32, DType.INT32);
        long perToken = s.dtype() == DType.FLOAT32 ? spec.hidden() / 128 : (spec.hidden() / 128 + 3) / 4;
        Checks.shape(name, s, tokens, perToken);
        Checks.device(name, s, device);
    }

    private void weights(String name, Tensor w, int tokens, long topk) {
        Checks.dtype(name, w, DType.FLOAT32);
        Checks.shape(name, w, tokens, topk);
        Checks.device(name, w, device);
    }

    private void handle(String name, DispatchHandle h) {
        if (h == null) {
            throw new InvalidArgumentException(name, null, "the handle of a dispatch on this buffer");
        }
        if (!h.belongsTo(buffer)) {
            throw new InvalidArgumentException(name, "a handle of rank " + h.rank() + " of another buffer",
                    "a handle made by this buffer");
        }
        if (h.isClosed()) {
            throw new InvalidArgumentException(name, "closed", "an open handle (its Dispatched was closed)");
        }
    }
}
