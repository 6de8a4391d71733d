package ep4j.cli.soak;

import ep4j.DType;
import ep4j.EpGroup;
import ep4j.Tensor;
import ep4j.codec.BFloat16;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * What one step produced on one group: per rank, every compared output as host bytes, in the
 * order the step made them (so the first difference is the earliest one). Outputs whose tail
 * the contract leaves undefined (rows past a received count) are cut to their defined rows.
 */
final class StepOutputs {
    /** One output: its name, element type, the shape compared, and its bytes. */
    record Output(String name, DType dtype, long[] shape, byte[] bytes) {
    }

    /** The outputs of one rank, filled on that rank's thread. */
    static final class Rank {
        private final EpGroup group;
        private final List<Output> outputs = new ArrayList<>();

        Rank(EpGroup group) {
            this.group = group;
        }

        /** The whole tensor (downloaded: this waits for the work that makes it). */
        void add(String name, Tensor t) {
            add(name, t, t.rank() == 0 ? 0 : t.dim(0));
        }

        /** The first {@code rows} rows of the tensor only (the rest is undefined by the contract). */
        void add(String name, Tensor t, long rows) {
            long[] shape = t.shape();
            if (shape.length > 0 && rows < shape[0]) {
                name = name + " (first " + rows + " of " + shape[0] + " rows)";
                shape[0] = rows;
            }
            try (Tensor host = group.download(t)) {
                byte[] all = host.toByteArray();
                outputs.add(new Output(name, t.dtype(), shape, Arrays.copyOf(all, (int) (rows * host.rowBytes()))));
            }
        }

        /** Values the host already has (counts the API returns as Java arrays). */
        void add(String name, int[] values) {
            ByteBuffer bb = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
            bb.asIntBuffer().put(values);
            outputs.add(new Output(name, DType.INT32, new long[] {values.length}, bb.array()));
        }

        List<Output> outputs() {
            return outputs;
        }
    }

    private final int[] rankIds;
    private final List<List<Output>> ranks;

    /**
     * @param rankIds the rank of each list (a group's {@code localRanks()}: every rank in one
     *                JVM, only this process's rank in a job of one process per rank)
     * @param ranks   the outputs of each of those ranks, in the same order
     */
    StepOutputs(int[] rankIds, List<List<Output>> ranks) {
        if (rankIds.length != ranks.size()) {
            throw new IllegalArgumentException("rankIds: " + rankIds.length + " ranks for " + ranks.size() + " output lists");
        }
        this.rankIds = rankIds.clone();
        this.ranks = ranks;
    }

    /** The outputs of rank {@code rank}, or null when this group does not drive it. */
    private List<Output> of(int rank) {
        for (int i = 0; i < rankIds.length; i++) {
            if (rankIds[i] == rank) {
                return ranks.get(i);
            }
        }
        return null;
    }

    /**
     * The first output that differs from {@code reference}'s, output by output in step order and
     * rank by rank within one output, described in one line; empty when all are equal bit for bit.
     * Only the ranks this group drove are compared; {@code reference} must hold each of them.
     */
    Optional<String> firstDifference(String name, StepOutputs reference, String referenceName) {
        int outputs = ranks.stream().mapToInt(List::size).max().orElse(0);
        for (int i = 0; i < outputs; i++) {
            for (int k = 0; k < ranks.size(); k++) {
                int r = rankIds[k];
                List<Output> mine = ranks.get(k);
                List<Output> theirs = reference.of(r);
                if (theirs == null) {
                    throw new IllegalArgumentException("reference: no outputs of rank " + r + " (it drove ranks "
                            + Arrays.toString(reference.rankIds) + ")");
                }
                if (i >= mine.size() || i >= theirs.size()) {
                    if (mine.size() != theirs.size()) {
                        return Optional.of("rank " + r + ": " + mine.size() + " outputs on " + name + ", " + theirs.size()
                                + " on " + referenceName);
                    }
                    continue;
                }
                Optional<String> d = difference(mine.get(i), name, theirs.get(i), referenceName);
                if (d.isPresent()) {
                    return Optional.of("rank " + r + ", " + d.get());
                }
            }
        }
        return Optional.empty();
    }

    private static Optional<String> difference(Output a, String an, Output b, String bn) {
        String what = a.name() + " " + a.dtype() + Arrays.toString(a.shape());
        if (!a.name().equals(b.name()) || !Arrays.equals(a.shape(), b.shape()) || a.dtype() != b.dtype()) {
            return Optional.of(what + " on " + an + ", " + b.name() + " " + b.dtype() + Arrays.toString(b.shape()) + " on " + bn);
        }
        int at = Arrays.mismatch(a.bytes(), b.bytes());
        if (at < 0) {
            return Optional.empty();
        }
        int size = a.dtype().byteSize();
        long element = at / size;
        return Optional.of(what + ": first difference at element " + index(element, a.shape()) + ": " + an + " "
                + value(a, element) + ", " + bn + " " + value(b, element));
    }

    /** {@code [3, 17]} for a flat index. */
    private static String index(long flat, long[] shape) {
        long[] idx = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            long n = Math.max(shape[d], 1);
            idx[d] = flat % n;
            flat /= n;
        }
        return Arrays.toString(idx);
    }

    private static String value(Output o, long element) {
        int size = o.dtype().byteSize();
        ByteBuffer bb = ByteBuffer.wrap(o.bytes(), (int) (element * size), size).order(ByteOrder.LITTLE_ENDIAN);
        return switch (o.dtype()) {
            case BF16 -> {
                short s = bb.getShort();
                yield String.format("0x%04x (%s)", s & 0xFFFF, BFloat16.toFloat(s));
            }
            case FLOAT32 -> {
                float f = bb.getFloat();
                yield String.format("0x%08x (%s)", Float.floatToRawIntBits(f), f);
            }
            case INT32 -> Integer.toString(bb.getInt());
            case INT64 -> Long.toString(bb.getLong());
            default -> String.format("0x%02x", bb.get() & 0xFF);
        };
    }

    /**
     * Flips the lowest bit of the first byte of the first non-empty output: the soak's test hook,
     * which shows that a difference fails the run.
     *
     * @return the name of the output changed, or null when every output is empty
     */
    String corrupt() {
        for (List<Output> rank : ranks) {
            for (Output o : rank) {
                if (o.bytes().length > 0) {
                    o.bytes()[0] ^= 1;
                    return o.name();
                }
            }
        }
        return null;
    }
}
