package ep4j.cli.replay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ep4j.cli.CliRun;
import ep4j.cli.npy.Npy;
import ep4j.cli.npy.NpyArray;
import ep4j.cli.npy.NpyType;
import ep4j.codec.BFloat16;
import ep4j.codec.Fp8Mode;
import ep4j.codec.Fp8Quantizer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Builds a small saved case (R = 2), replays it on the CPU backend, checks every output against values computed here. */
class ReplayCommandTest {
    static final int R = 2;
    static final int E = 8;
    static final int L = E / R;
    static final int H = 256;
    static final int K = 3;
    static final int[] T = {5, 3};
    static final int N = 6; // low-latency capacity

    @TempDir
    Path dir;

    Path in;
    float[][] x = new float[R][];
    long[][] idx = new long[R][];
    float[][] w = new float[R][];

    @BeforeEach
    void writeCase() throws IOException {
        in = dir.resolve("case");
        Random rnd = new Random(11);
        for (int r = 0; r < R; r++) {
            x[r] = new float[T[r] * H];
            for (int i = 0; i < x[r].length; i++) {
                // bf16-exact values of mixed magnitude, zeros included.
                x[r][i] = i % 17 == 0 ? 0f : BFloat16.toFloat(BFloat16.fromFloat((float) rnd.nextGaussian() * (1 + i % 5)));
            }
            idx[r] = new long[T[r] * K];
            w[r] = new float[T[r] * K];
            for (int t = 0; t < T[r]; t++) {
                List<Long> pool = new ArrayList<>();
                for (long e = 0; e < E; e++) {
                    pool.add(e);
                }
                java.util.Collections.shuffle(pool, rnd);
                for (int k = 0; k < K; k++) {
                    idx[r][t * K + k] = pool.get(k);
                    w[r][t * K + k] = 0.25f * (k + 1) + r;
                }
            }
        }
        idx[0][1 * K + 2] = -1; // a slot with no expert
        idx[1][2 * K] = -1;
        idx[1][2 * K + 1] = -1;
        idx[1][2 * K + 2] = -1; // a token sent nowhere
        Files.createDirectories(in);
        Files.writeString(in.resolve("meta.json"), "{\"ranks\": 2, \"experts\": 8, \"hidden\": 256, \"topk\": 3}");
        for (int r = 0; r < R; r++) {
            Path d = in.resolve("rank" + r);
            Npy.write(d.resolve("x.npy"), NpyArray.ofFloats(x[r], T[r], H));
            Npy.write(d.resolve("topk_idx.npy"), NpyArray.ofLongs(idx[r], T[r], K));
            Npy.write(d.resolve("topk_weights.npy"), NpyArray.ofFloats(w[r], T[r], K));
        }
    }

    /** Ranks a token of rank src goes to. */
    boolean goesTo(int src, int t, int dst) {
        for (int k = 0; k < K; k++) {
            long e = idx[src][t * K + k];
            if (e >= 0 && e / L == dst) {
                return true;
            }
        }
        return false;
    }

    static float bf16(float f) {
        return BFloat16.toFloat(BFloat16.fromFloat(f));
    }

    @Test
    void replaysBf16WithLowLatency() throws IOException {
        Path out = dir.resolve("out");
        CliRun run = CliRun.of("replay", "--in", in.toString(), "--out", out.toString(), "--backend", "cpu",
                "--low-latency", "--max-tokens", Integer.toString(N));
        assertEquals(0, run.code(), run.toString());
        assertTrue(Files.isRegularFile(out.resolve("replay.json")));

        for (int j = 0; j < R; j++) {
            Path d = out.resolve("rank" + j);
            // Normal dispatch: rows by source rank, then source token.
            List<float[]> rows = new ArrayList<>();
            List<long[]> rowIdx = new ArrayList<>();
            List<float[]> rowW = new ArrayList<>();
            int[] perExpert = new int[L];
            for (int src = 0; src < R; src++) {
                for (int t = 0; t < T[src]; t++) {
                    if (!goesTo(src, t, j)) {
                        continue;
                    }
                    rows.add(java.util.Arrays.copyOfRange(x[src], t * H, (t + 1) * H));
                    long[] li = new long[K];
                    float[] lw = new float[K];
                    for (int k = 0; k < K; k++) {
                        long e = idx[src][t * K + k];
                        boolean here = e >= 0 && e / L == j;
                        li[k] = here ? e % L : -1;
                        lw[k] = here ? w[src][t * K + k] : 0f;
                        if (here) {
                            perExpert[(int) (e % L)]++;
                        }
                    }
                    rowIdx.add(li);
                    rowW.add(lw);
                }
            }
            int n = rows.size();
            NpyArray rx = Npy.read(d.resolve("recv_x.npy")).expect("recv_x", NpyType.FLOAT32, n, H);
            NpyArray ri = Npy.read(d.resolve("recv_topk_idx.npy")).expect("recv_topk_idx", NpyType.INT64, n, K);
            NpyArray rw = Npy.read(d.resolve("recv_topk_weights.npy")).expect("recv_topk_weights", NpyType.FLOAT32, n, K);
            for (int i = 0; i < n; i++) {
                assertArrayEquals(rows.get(i), java.util.Arrays.copyOfRange(rx.toFloatArray(), i * H, (i + 1) * H), "rank " + j + " row " + i);
                assertArrayEquals(rowIdx.get(i), java.util.Arrays.copyOfRange(ri.toLongArray(), i * K, (i + 1) * K));
                assertArrayEquals(rowW.get(i), java.util.Arrays.copyOfRange(rw.toFloatArray(), i * K, (i + 1) * K));
            }
            assertArrayEquals(perExpert, Npy.read(d.resolve("recv_tokens_per_expert.npy"))
                    .expect("tpe", NpyType.INT32, L).toIntArray());

            // Combine on home rank j of the received rows as they are: every receiving rank adds x.
            float[] combined = Npy.read(d.resolve("combined_x.npy")).expect("combined", NpyType.FLOAT32, T[j], H).toFloatArray();
            for (int t = 0; t < T[j]; t++) {
                for (int c = 0; c < H; c++) {
                    float acc = 0f;
                    for (int dst = 0; dst < R; dst++) {
                        if (goesTo(j, t, dst)) {
                            acc += x[j][t * H + c];
                        }
                    }
                    assertEquals(bf16(acc), combined[t * H + c], "rank " + j + " token " + t + " channel " + c);
                }
            }

            // Low-latency dispatch: expert-major, rows by source rank then token, zero past the count.
            float[] llx = Npy.read(d.resolve("ll_recv_x.npy")).expect("ll_recv_x", NpyType.FLOAT32, L, R * N, H).toFloatArray();
            int[] count = Npy.read(d.resolve("ll_recv_count.npy")).expect("ll_recv_count", NpyType.INT32, L).toIntArray();
            for (int l = 0; l < L; l++) {
                int row = 0;
                for (int src = 0; src < R; src++) {
                    for (int t = 0; t < T[src]; t++) {
                        for (int k = 0; k < K; k++) {
                            if (idx[src][t * K + k] == (long) j * L + l) {
                                for (int c = 0; c < H; c++) {
                                    assertEquals(x[src][t * H + c], llx[(l * R * N + row) * H + c]);
                                }
                                row++;
                            }
                        }
                    }
                }
                assertEquals(row, count[l], "rank " + j + " local expert " + l);
                for (int i = row * H; i < R * N * H; i++) {
                    assertEquals(0f, llx[l * R * N * H + i], "zero fill past the count");
                }
            }

            // Low-latency combine of the received rows with the weights: fma over k ascending, one rounding.
            float[] llc = Npy.read(d.resolve("ll_combined_x.npy")).expect("ll_combined_x", NpyType.FLOAT32, T[j], H).toFloatArray();
            for (int t = 0; t < T[j]; t++) {
                for (int c = 0; c < H; c++) {
                    float acc = 0f;
                    for (int k = 0; k < K; k++) {
                        if (idx[j][t * K + k] >= 0) {
                            acc = Math.fma(w[j][t * K + k], x[j][t * H + c], acc);
                        }
                    }
                    assertEquals(bf16(acc), llc[t * H + c], "rank " + j + " token " + t + " channel " + c);
                }
            }
        }
    }

    @Test
    void replaysFp8() throws IOException {
        Path out = dir.resolve("fp8");
        CliRun run = CliRun.of("replay", "--in", in.toString(), "--out", out.toString(), "--backend", "cpu", "--fp8");
        assertEquals(0, run.code(), run.toString());
        int sb = H / 128;
        for (int j = 0; j < R; j++) {
            Path d = out.resolve("rank" + j);
            List<byte[]> q = new ArrayList<>();
            List<float[]> s = new ArrayList<>();
            for (int src = 0; src < R; src++) {
                for (int t = 0; t < T[src]; t++) {
                    if (goesTo(src, t, j)) {
                        byte[][] qs = quantize(x[src], t);
                        q.add(qs[0]);
                        MemorySegment sc = MemorySegment.ofArray(qs[1]);
                        s.add(sc.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED));
                    }
                }
            }
            int n = q.size();
            byte[] rq = Npy.read(d.resolve("recv_x_fp8.npy")).expect("q", NpyType.UINT8, n, H).toByteArray();
            float[] rs = Npy.read(d.resolve("recv_scales.npy")).expect("s", NpyType.FLOAT32, n, sb).toFloatArray();
            for (int i = 0; i < n; i++) {
                assertArrayEquals(q.get(i), java.util.Arrays.copyOfRange(rq, i * H, (i + 1) * H), "rank " + j + " row " + i);
                assertArrayEquals(s.get(i), java.util.Arrays.copyOfRange(rs, i * sb, (i + 1) * sb));
            }
            // Combine of the dequantized rows (rounded to bf16): each receiving rank adds the same value.
            float[] combined = Npy.read(d.resolve("combined_x.npy")).expect("c", NpyType.FLOAT32, T[j], H).toFloatArray();
            for (int t = 0; t < T[j]; t++) {
                byte[][] qs = quantize(x[j], t);
                float[] sc = MemorySegment.ofArray(qs[1]).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
                for (int c = 0; c < H; c++) {
                    float v = bf16(Fp8Quantizer.dequantize(qs[0][c], sc[c / 128]));
                    float acc = 0f;
                    for (int dst = 0; dst < R; dst++) {
                        if (goesTo(j, t, dst)) {
                            acc += v;
                        }
                    }
                    assertEquals(bf16(acc), combined[t * H + c], "rank " + j + " token " + t + " channel " + c);
                }
            }
        }
    }

    private static byte[][] quantize(float[] xs, int t) {
        MemorySegment row = Arena.ofAuto().allocate(2L * H);
        for (int c = 0; c < H; c++) {
            row.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, c, BFloat16.fromFloat(xs[t * H + c]));
        }
        MemorySegment q = Arena.ofAuto().allocate(H);
        MemorySegment s = Arena.ofAuto().allocate(4L * (H / 128));
        Fp8Quantizer.quantize(row, 1, H, Fp8Mode.DEFAULT, q, s);
        return new byte[][] {q.toArray(ValueLayout.JAVA_BYTE), s.toArray(ValueLayout.JAVA_BYTE)};
    }

    @Test
    void rejectsXThatBf16CannotHold() throws IOException {
        float[] bad = x[1].clone();
        bad[H + 7] = 0.1f;
        Npy.write(in.resolve("rank1/x.npy"), NpyArray.ofFloats(bad, T[1], H));
        CliRun run = CliRun.of("replay", "--in", in.toString(), "--out", dir.resolve("o").toString(), "--backend", "cpu");
        assertEquals(1, run.code(), run.toString());
        assertTrue(run.err().contains(in.resolve("rank1/x.npy") + ": element [1, 7] (flat index " + (H + 7) + ") = 0.1"),
                run.toString());
        assertTrue(run.err().contains("not exactly representable in bf16"), run.toString());
    }

    @Test
    void rejectsWrongShapesAndExperts() throws IOException {
        Npy.write(in.resolve("rank0/topk_weights.npy"), NpyArray.ofFloats(new float[T[0] * 2], T[0], 2));
        CliRun run = CliRun.of("replay", "--in", in.toString(), "--out", dir.resolve("o").toString(), "--backend", "cpu");
        assertEquals(1, run.code(), run.toString());
        assertTrue(run.err().contains("topk_weights.npy: shape is (5, 2), expected (5, 3)"), run.toString());

        Npy.write(in.resolve("rank0/topk_weights.npy"), NpyArray.ofFloats(w[0], T[0], K));
        long[] badIdx = idx[0].clone();
        badIdx[4] = 8;
        Npy.write(in.resolve("rank0/topk_idx.npy"), NpyArray.ofLongs(badIdx, T[0], K));
        run = CliRun.of("replay", "--in", in.toString(), "--out", dir.resolve("o").toString(), "--backend", "cpu");
        assertEquals(1, run.code(), run.toString());
        assertTrue(run.err().contains("rank0/topk_idx.npy: element [1, 1] = 8 is out of range"), run.toString());
    }
}
