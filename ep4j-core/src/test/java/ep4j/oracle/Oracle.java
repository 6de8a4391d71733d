package ep4j.oracle;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A brute-force oracle of DESIGN 2, written from the specification in plain loops over Java
 * arrays: it shares no code with any backend (nor with ep4j.codec), so a backend compared against
 * it is checked by an independent implementation. Slow on purpose; keep cases small.
 *
 * <p>Conventions: bf16 values are {@code short} bit patterns; byte arrays are little-endian;
 * per-rank inputs come from a {@link Cases.Case}. Policy on a token listing one expert in several
 * topk slots: it selected that expert once (counts once, sent once to that expert in low
 * latency); every slot is kept in the received topk and weighs in low-latency combine.
 */
public final class Oracle {
    private Oracle() {
    }

    /** FP8 scale flavours of DESIGN 2.6 (same names as ep4j.codec.Fp8Mode). */
    public enum Fp8 {
        DEFAULT, ROUND_SCALE, UE8M0
    }

    // ------------------------------------------------------------------------------------ numbers

    /** float32 to bf16, round to nearest even on the dropped 16 bits; any NaN becomes 0x7FFF. */
    public static short bf16(float f) {
        if (Float.isNaN(f)) {
            return 0x7FFF;
        }
        int bits = Float.floatToRawIntBits(f);
        int upper = bits >>> 16;
        int lower = bits & 0xFFFF;
        if (lower > 0x8000 || (lower == 0x8000 && (upper & 1) == 1)) {
            upper++;
        }
        return (short) upper;
    }

    public static float bf16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /** The value of each non-negative e4m3 code 0..0x7E, from the format's definition. */
    private static final double[] E4M3_VALUES = new double[0x7F];

    static {
        for (int c = 0; c < 0x7F; c++) {
            int exp = c >> 3;
            int man = c & 7;
            E4M3_VALUES[c] = exp == 0 ? man / 512.0 : Math.pow(2, exp - 7) * (1 + man / 8.0);
        }
    }

    /** float32 to e4m3fn by search: nearest code, ties to the even code, saturating at 448, NaN to 0x7F, sign kept. */
    public static byte e4m3(float f) {
        if (Float.isNaN(f)) {
            return 0x7F;
        }
        int sign = (Float.floatToRawIntBits(f) >>> 31) << 7;
        double a = Math.abs((double) f);
        if (a >= 448) {
            return (byte) (sign | 0x7E);
        }
        int best = 0;
        double bestDiff = a;
        for (int c = 1; c < 0x7F; c++) {
            double d = Math.abs(E4M3_VALUES[c] - a);
            if (d < bestDiff || (d == bestDiff && (c & 1) == 0)) {
                best = c;
                bestDiff = d;
            }
        }
        return (byte) (sign | best);
    }

    public static double e4m3ToDouble(byte code) {
        int c = code & 0x7F;
        if (c == 0x7F) {
            return Double.NaN;
        }
        return (code & 0x80) != 0 ? -E4M3_VALUES[c] : E4M3_VALUES[c];
    }

    /** Bytes of one row's scales: {@code 4 * H/128} (float32), or {@code 4 * ceil(H/512)} (UE8M0). */
    public static int scaleRowBytes(int hidden, Fp8 mode) {
        int blocks = hidden / 128;
        return mode == Fp8.UE8M0 ? 4 * ((blocks + 3) / 4) : 4 * blocks;
    }

    /** The smallest power of two >= v (v a positive normal float). */
    static float ceilPow2(float v) {
        float p = Math.scalb(1f, Math.getExponent(v));
        return p < v ? p * 2 : p;
    }

    /**
     * DESIGN 2.6 on one bf16 row: writes {@code H} e4m3 bytes to {@code q} at {@code qOff} and the
     * row's scales (float32 LE, or packed exponent bytes padded with zeros) to {@code s} at {@code sOff}.
     */
    public static void quantizeRow(short[] x, int xOff, int hidden, Fp8 mode, byte[] q, int qOff, byte[] s, int sOff) {
        int blocks = hidden / 128;
        ByteBuffer sb = ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN);
        for (int b = 0; b < blocks; b++) {
            float amax = 0f;
            for (int i = 0; i < 128; i++) {
                float v = Math.abs(bf16ToFloat(x[xOff + b * 128 + i]));
                if (v > amax) {
                    amax = v;
                }
            }
            amax = Math.max(amax, 1e-4f);
            if (mode == Fp8.DEFAULT) {
                float mul = 448f / amax;
                for (int i = 0; i < 128; i++) {
                    q[qOff + b * 128 + i] = e4m3(bf16ToFloat(x[xOff + b * 128 + i]) * mul);
                }
                sb.putFloat(sOff + 4 * b, amax / 448f);
            } else {
                float scale = ceilPow2(amax / 448f);
                for (int i = 0; i < 128; i++) {
                    q[qOff + b * 128 + i] = e4m3(bf16ToFloat(x[xOff + b * 128 + i]) / scale);
                }
                if (mode == Fp8.ROUND_SCALE) {
                    sb.putFloat(sOff + 4 * b, scale);
                } else {
                    s[sOff + b] = (byte) (Math.getExponent(scale) + 127);
                }
            }
        }
        if (mode == Fp8.UE8M0) {
            for (int p = blocks; p < scaleRowBytes(hidden, mode); p++) {
                s[sOff + p] = 0;
            }
        }
    }

    /** A whole {@code [T, H]} bf16 tensor quantized row by row: {q, scales}. */
    public static byte[][] quantize(short[] x, int tokens, int hidden, Fp8 mode) {
        byte[] q = new byte[tokens * hidden];
        int srb = scaleRowBytes(hidden, mode);
        byte[] s = new byte[tokens * srb];
        for (int t = 0; t < tokens; t++) {
            quantizeRow(x, t * hidden, hidden, mode, q, t * hidden, s, t * srb);
        }
        return new byte[][] {q, s};
    }

    // ------------------------------------------------------------------------------------ layout

    public record Layout(int[] tokensPerRank, int[] tokensPerExpert, byte[] isTokenInRank) {
    }

    /** Whether token t of a {@code [T, K]} routing selected expert e. */
    static boolean selects(long[] idx, int topk, int t, long e) {
        for (int k = 0; k < topk; k++) {
            if (idx[t * topk + k] == e) {
                return true;
            }
        }
        return false;
    }

    /** Whether token t has an expert on rank j. */
    static boolean goesTo(long[] idx, int topk, int t, int j, int local) {
        for (int k = 0; k < topk; k++) {
            long e = idx[t * topk + k];
            if (e >= 0 && e / local == j) {
                return true;
            }
        }
        return false;
    }

    public static Layout layout(long[] idx, int tokens, int topk, int ranks, int experts) {
        int local = experts / ranks;
        int[] perRank = new int[ranks];
        int[] perExpert = new int[experts];
        byte[] in = new byte[tokens * ranks];
        for (int t = 0; t < tokens; t++) {
            for (int j = 0; j < ranks; j++) {
                if (goesTo(idx, topk, t, j, local)) {
                    in[t * ranks + j] = 1;
                    perRank[j]++;
                }
            }
            for (int e = 0; e < experts; e++) {
                if (selects(idx, topk, t, e)) {
                    perExpert[e]++;
                }
            }
        }
        return new Layout(perRank, perExpert, in);
    }

    // ------------------------------------------------------------------------------------ normal dispatch

    /**
     * What rank j receives in a normal dispatch ({@code rows} allocated, {@code received} real).
     * Rows past {@code received}: x and scales zero, topkIdx -1, weights 0, sourceRank/Token -1.
     */
    public record Dispatch(int rows, int received, byte[] x, byte[] scales, long[] topkIdx, float[] topkWeights,
            int[] tokensPerExpert, int[] sourceRank, int[] sourceToken, int[] sourceRankOffsets, int[] sendRow) {
    }

    /** Rows every rank receives (before numWorstTokens padding). */
    public static int[] receivedRows(Cases.Case c) {
        int[] n = new int[c.ranks];
        for (int j = 0; j < c.ranks; j++) {
            for (int i = 0; i < c.ranks; i++) {
                for (int t = 0; t < c.tokens[i]; t++) {
                    if (goesTo(c.topkIdx[i], c.topk, t, j, c.localExperts())) {
                        n[j]++;
                    }
                }
            }
        }
        return n;
    }

    /** bf16 dispatch of the case's x with its topk and weights. */
    public static Dispatch[] dispatch(Cases.Case c, int expertAlignment, int numWorstTokens) {
        byte[][] x = new byte[c.ranks][];
        for (int r = 0; r < c.ranks; r++) {
            x[r] = bytes(c.x[r]);
        }
        return dispatch(c, x, 2 * c.hidden, null, 0, expertAlignment, numWorstTokens);
    }

    /**
     * Dispatch of arbitrary rows (bf16 or fp8 bytes, with optional scale rows carried unchanged),
     * routed by the case's topk.
     */
    public static Dispatch[] dispatch(Cases.Case c, byte[][] x, int xRowBytes, byte[][] scales, int scaleRowBytes,
            int expertAlignment, int numWorstTokens) {
        int R = c.ranks;
        int K = c.topk;
        int L = c.localExperts();
        Dispatch[] out = new Dispatch[R];
        int[][] sendRow = new int[R][];
        for (int i = 0; i < R; i++) {
            sendRow[i] = new int[c.tokens[i] * R];
            Arrays.fill(sendRow[i], -1);
        }
        for (int j = 0; j < R; j++) {
            int n = 0;
            for (int i = 0; i < R; i++) {
                for (int t = 0; t < c.tokens[i]; t++) {
                    if (goesTo(c.topkIdx[i], K, t, j, L)) {
                        n++;
                    }
                }
            }
            int rows = numWorstTokens > 0 ? numWorstTokens : n;
            if (rows < n) {
                throw new IllegalArgumentException("numWorstTokens " + numWorstTokens + " < " + n + " on rank " + j);
            }
            byte[] rx = new byte[rows * xRowBytes];
            byte[] rs = scales == null ? null : new byte[rows * scaleRowBytes];
            long[] ri = new long[rows * K];
            Arrays.fill(ri, -1);
            float[] rw = new float[rows * K];
            int[] srcRank = new int[rows];
            int[] srcTok = new int[rows];
            Arrays.fill(srcRank, -1);
            Arrays.fill(srcTok, -1);
            int[] offsets = new int[R + 1];
            int row = 0;
            for (int i = 0; i < R; i++) {
                offsets[i] = row;
                for (int t = 0; t < c.tokens[i]; t++) {
                    if (!goesTo(c.topkIdx[i], K, t, j, L)) {
                        continue;
                    }
                    System.arraycopy(x[i], t * xRowBytes, rx, row * xRowBytes, xRowBytes);
                    if (rs != null) {
                        System.arraycopy(scales[i], t * scaleRowBytes, rs, row * scaleRowBytes, scaleRowBytes);
                    }
                    for (int k = 0; k < K; k++) {
                        long e = c.topkIdx[i][t * K + k];
                        if (e >= 0 && e / L == j) {
                            ri[row * K + k] = e - (long) j * L;
                            rw[row * K + k] = c.topkWeights[i][t * K + k];
                        }
                    }
                    srcRank[row] = i;
                    srcTok[row] = t;
                    sendRow[i][t * R + j] = row;
                    row++;
                }
            }
            offsets[R] = row;
            int[] perExpert = new int[L];
            for (int l = 0; l < L; l++) {
                long e = (long) j * L + l;
                int count = 0;
                for (int i = 0; i < R; i++) {
                    for (int t = 0; t < c.tokens[i]; t++) {
                        if (selects(c.topkIdx[i], K, t, e)) {
                            count++;
                        }
                    }
                }
                perExpert[l] = (count + expertAlignment - 1) / expertAlignment * expertAlignment;
            }
            out[j] = new Dispatch(rows, n, rx, rs, ri, rw, perExpert, srcRank, srcTok, offsets, null);
        }
        for (int i = 0; i < R; i++) {
            Dispatch d = out[i];
            out[i] = new Dispatch(d.rows, d.received, d.x, d.scales, d.topkIdx, d.topkWeights, d.tokensPerExpert,
                    d.sourceRank, d.sourceToken, d.sourceRankOffsets, sendRow[i]);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------ normal combine

    public record Combine(short[] x, float[] topkWeights) {
    }

    /**
     * Normal combine: expert outputs {@code y[j]} ({@code [rows_j, H]} bf16) in the row order of
     * {@code d[j]}, optional received weights {@code w[j]} ({@code [rows_j, K]}), optional biases
     * per home rank ({@code [T, H]} bf16, null for none).
     */
    public static Combine[] combine(Cases.Case c, Dispatch[] d, short[][] y, float[][] w, short[][] bias0,
            short[][] bias1) {
        int R = c.ranks;
        int H = c.hidden;
        int K = c.topk;
        Combine[] out = new Combine[R];
        for (int i = 0; i < R; i++) {
            short[] x = new short[c.tokens[i] * H];
            float[] ws = w == null ? null : new float[c.tokens[i] * K];
            for (int t = 0; t < c.tokens[i]; t++) {
                int[] rowOn = new int[R];
                for (int j = 0; j < R; j++) {
                    rowOn[j] = -1;
                    for (int r = 0; r < d[j].received; r++) {
                        if (d[j].sourceRank[r] == i && d[j].sourceToken[r] == t) {
                            rowOn[j] = r;
                        }
                    }
                }
                for (int h = 0; h < H; h++) {
                    float acc = 0f;
                    if (bias0 != null) {
                        acc += bf16ToFloat(bias0[i][t * H + h]);
                    }
                    if (bias1 != null) {
                        acc += bf16ToFloat(bias1[i][t * H + h]);
                    }
                    for (int j = 0; j < R; j++) {
                        if (rowOn[j] >= 0) {
                            acc += bf16ToFloat(y[j][rowOn[j] * H + h]);
                        }
                    }
                    x[t * H + h] = bf16(acc);
                }
                if (ws != null) {
                    for (int k = 0; k < K; k++) {
                        float acc = 0f;
                        for (int j = 0; j < R; j++) {
                            if (rowOn[j] >= 0) {
                                acc += w[j][rowOn[j] * K + k];
                            }
                        }
                        ws[t * K + k] = acc;
                    }
                }
            }
            out[i] = new Combine(x, ws);
        }
        return out;
    }

    // ------------------------------------------------------------------------------------ low latency

    /**
     * What rank j receives in a low-latency dispatch, expert-major {@code [L, R*N, ...]}. Only the
     * first {@code recvCount[l]} rows of expert l are defined; {@code sourceRank}/{@code sourceToken}
     * are -1 past them.
     */
    public record LowLatencyDispatch(int local, int capacity, int xRowBytes, byte[] x, int scaleRowBytes,
            byte[] scales, int[] recvCount, int[] sourceRank, int[] sourceToken, int[] ranges) {
    }

    /** Low-latency dispatch with capacity N per rank; {@code mode} null for bf16. */
    public static LowLatencyDispatch[] lowLatencyDispatch(Cases.Case c, int maxTokensPerRank, Fp8 mode) {
        int R = c.ranks;
        int K = c.topk;
        int H = c.hidden;
        int L = c.localExperts();
        int cap = R * maxTokensPerRank;
        int xrb = mode == null ? 2 * H : H;
        int srb = mode == null ? 0 : scaleRowBytes(H, mode);
        byte[][] sx = new byte[R][];
        byte[][] ss = new byte[R][];
        for (int i = 0; i < R; i++) {
            if (mode == null) {
                sx[i] = bytes(c.x[i]);
            } else {
                byte[][] qs = quantize(c.x[i], c.tokens[i], H, mode);
                sx[i] = qs[0];
                ss[i] = qs[1];
            }
        }
        LowLatencyDispatch[] out = new LowLatencyDispatch[R];
        for (int j = 0; j < R; j++) {
            byte[] x = new byte[L * cap * xrb];
            byte[] s = new byte[L * cap * srb];
            int[] count = new int[L];
            int[] srcRank = new int[L * cap];
            int[] srcTok = new int[L * cap];
            Arrays.fill(srcRank, -1);
            Arrays.fill(srcTok, -1);
            int[] ranges = new int[L * R * 2];
            for (int l = 0; l < L; l++) {
                long e = (long) j * L + l;
                int row = 0;
                for (int i = 0; i < R; i++) {
                    int begin = row;
                    for (int t = 0; t < c.tokens[i]; t++) {
                        if (!selects(c.topkIdx[i], K, t, e)) {
                            continue;
                        }
                        int dst = l * cap + row;
                        System.arraycopy(sx[i], t * xrb, x, dst * xrb, xrb);
                        if (srb > 0) {
                            System.arraycopy(ss[i], t * srb, s, dst * srb, srb);
                        }
                        srcRank[dst] = i;
                        srcTok[dst] = t;
                        row++;
                    }
                    ranges[(l * R + i) * 2] = begin;
                    ranges[(l * R + i) * 2 + 1] = row - begin;
                }
                count[l] = row;
            }
            out[j] = new LowLatencyDispatch(L, cap, xrb, x, srb, s, count, srcRank, srcTok, ranges);
        }
        return out;
    }

    /**
     * Low-latency combine: {@code y[j]} is rank j's {@code [L, R*N, H]} bf16 expert output in the
     * layout of {@code d[j]}; returns per home rank {@code [T, H]} bf16 with
     * {@code out[t] = bf16(fma-sum over k ascending of w[t][k] * y[e][row])}.
     */
    public static short[][] lowLatencyCombine(Cases.Case c, LowLatencyDispatch[] d, short[][] y) {
        int R = c.ranks;
        int K = c.topk;
        int H = c.hidden;
        int L = c.localExperts();
        short[][] out = new short[R][];
        for (int i = 0; i < R; i++) {
            out[i] = new short[c.tokens[i] * H];
            for (int t = 0; t < c.tokens[i]; t++) {
                int[] rowOf = new int[K];
                for (int k = 0; k < K; k++) {
                    long e = c.topkIdx[i][t * K + k];
                    rowOf[k] = -1;
                    if (e < 0) {
                        continue;
                    }
                    int j = (int) (e / L);
                    int l = (int) (e % L);
                    for (int r = 0; r < d[j].recvCount[l]; r++) {
                        if (d[j].sourceRank[l * d[j].capacity + r] == i && d[j].sourceToken[l * d[j].capacity + r] == t) {
                            rowOf[k] = l * d[j].capacity + r;
                        }
                    }
                    if (rowOf[k] < 0) {
                        throw new IllegalStateException("oracle: token " + t + " of rank " + i + " not found on expert " + e);
                    }
                }
                for (int h = 0; h < H; h++) {
                    float acc = 0f;
                    for (int k = 0; k < K; k++) {
                        long e = c.topkIdx[i][t * K + k];
                        if (e < 0) {
                            continue;
                        }
                        int j = (int) (e / L);
                        acc = Math.fma(c.topkWeights[i][t * K + k], bf16ToFloat(y[j][rowOf[k] * H + h]), acc);
                    }
                    out[i][t * H + h] = bf16(acc);
                }
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------------ helpers

    /** bf16 bit patterns as little-endian bytes. */
    public static byte[] bytes(short[] v) {
        byte[] b = new byte[v.length * 2];
        for (int i = 0; i < v.length; i++) {
            b[2 * i] = (byte) v[i];
            b[2 * i + 1] = (byte) (v[i] >> 8);
        }
        return b;
    }

    public static short[] shorts(byte[] b) {
        short[] v = new short[b.length / 2];
        for (int i = 0; i < v.length; i++) {
            v[i] = (short) ((b[2 * i] & 0xFF) | (b[2 * i + 1] << 8));
        }
        return v;
    }

    /** The first {@code rows} rows ({@code rowBytes} each) of each of the {@code blocks} blocks of {@code capacity} rows. */
    public static byte[] validRows(byte[] data, int rowBytes, int capacity, int[] rowsPerBlock) {
        int total = Arrays.stream(rowsPerBlock).sum();
        byte[] out = new byte[total * rowBytes];
        int pos = 0;
        for (int l = 0; l < rowsPerBlock.length; l++) {
            System.arraycopy(data, l * capacity * rowBytes, out, pos, rowsPerBlock[l] * rowBytes);
            pos += rowsPerBlock[l] * rowBytes;
        }
        return out;
    }
}
