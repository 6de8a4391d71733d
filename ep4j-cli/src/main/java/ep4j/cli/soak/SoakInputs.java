package ep4j.cli.soak;

import ep4j.DType;
import ep4j.Tensor;
import ep4j.codec.Fp8Quantizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/**
 * The host data of one step, made from its case's seed: every call makes the same bytes, so the
 * group under test and the reference group get the same inputs. Tensors live in one arena that
 * {@link #close()} frees (nothing is left to the garbage collector, so a leak shows in the
 * native count). Safe to call from every rank's thread at once.
 */
final class SoakInputs implements AutoCloseable {
    private final SoakCase c;
    private final Arena arena = Arena.ofShared();

    SoakInputs(SoakCase c) {
        this.c = c;
    }

    /** The tokens of rank {@code r} ({@code which} 0: the dispatch's, 1: the cached dispatch's). */
    Tensor x(int r, int which) {
        return bf16(c.tokens()[r], c.shape().hidden(), 0x100 + 16L * r + which);
    }

    /** The routing of rank {@code r}, int64 or int32 as the case says. */
    Tensor topkIdx(int r) {
        long[] idx = c.routing(r);
        int t = c.tokens()[r];
        if (!c.int32Index()) {
            Tensor out = Tensor.allocateHost(arena, DType.INT64, t, c.topk());
            MemorySegment.copy(idx, 0, out.segment(), ValueLayout.JAVA_LONG_UNALIGNED, 0, idx.length);
            return out;
        }
        Tensor out = Tensor.allocateHost(arena, DType.INT32, t, c.topk());
        for (int i = 0; i < idx.length; i++) {
            out.segment().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, (int) idx[i]);
        }
        return out;
    }

    /** Positive weights {@code [T, K]}. */
    Tensor topkWeights(int r) {
        SplittableRandom rnd = rnd(0x200 + r);
        int n = c.tokens()[r] * c.topk();
        Tensor out = Tensor.allocateHost(arena, DType.FLOAT32, c.tokens()[r], c.topk());
        for (int i = 0; i < n; i++) {
            out.segment().setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) (1.0 - rnd.nextDouble()));
        }
        return out;
    }

    /** {@code x} quantized on the host in the case's fp8 mode: {@code [0]} codes, {@code [1]} scales. */
    Tensor[] fp8(Tensor x) {
        int t = (int) x.dim(0);
        int h = c.shape().hidden();
        Tensor q = Tensor.allocateHost(arena, DType.FP8_E4M3, t, h);
        Tensor s = Tensor.allocateHost(arena, c.fp8().packedExponents() ? DType.INT32 : DType.FLOAT32, t,
                c.fp8().scaleElementsPerRow(h));
        Fp8Quantizer.quantize(x.segment(), t, h, c.fp8(), q.segment(), s.segment());
        return new Tensor[] {q, s};
    }

    /** Bias {@code i} of rank {@code r}: {@code [T, H]} bf16. */
    Tensor bias(int r, int i) {
        return bf16(c.tokens()[r], c.shape().hidden(), 0x300 + 16L * r + i);
    }

    /** What the experts of rank {@code r} return: {@code [rows, H]} bf16. */
    Tensor expertOutput(int r, long rows) {
        return bf16(rows, c.shape().hidden(), 0x400 + r);
    }

    /** What the experts of rank {@code r} return after a low-latency dispatch: {@code [L, R*N, H]} bf16. */
    Tensor lowLatencyExpertOutput(int r) {
        long local = c.experts() / c.ranks();
        long capacity = (long) c.ranks() * c.shape().llTokens();
        Tensor flat = bf16(local * capacity, c.shape().hidden(), 0x500 + r);
        return Tensor.ofHost(flat.segment(), DType.BF16, local, capacity, c.shape().hidden());
    }

    /**
     * bf16 values of mixed magnitude (2^-20 to 2^20, either sign), one in 64 a special finite
     * value: a signed zero, the smallest subnormal, or 2^100. No NaN or infinity: sums of those
     * are IEEE-defined but a NaN's payload is not part of the contract.
     */
    private Tensor bf16(long rows, int hidden, long stream) {
        Tensor out = Tensor.allocateHost(arena, DType.BF16, rows, hidden);
        SplittableRandom rnd = rnd(stream);
        MemorySegment seg = out.segment();
        long n = rows * hidden;
        for (long i = 0; i < n; i++) {
            int draw = rnd.nextInt(256);
            short bits;
            if (draw < 4) {
                bits = switch (draw) {
                    case 0 -> (short) 0x0000;
                    case 1 -> (short) 0x8000;
                    case 2 -> (short) 0x0001;
                    default -> (short) 0x7180;
                };
            } else {
                int exponent = 127 - 20 + rnd.nextInt(41);
                bits = (short) ((rnd.nextBoolean() ? 0x8000 : 0) | exponent << 7 | rnd.nextInt(128));
            }
            seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, bits);
        }
        return out;
    }

    private SplittableRandom rnd(long stream) {
        return new SplittableRandom(SoakCase.mix(c.seed(), stream));
    }

    @Override
    public void close() {
        arena.close();
    }
}
