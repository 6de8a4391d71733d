package ep4j.cpu;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.InvalidArgumentException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The buffers of every rank of a {@link CpuGroup}, made by one allocate call; they share one {@link Exchange}. */
final class CpuBuffers implements EpBuffers {
    private final List<EpBuffer> buffers;
    private final Exchange exchange;

    CpuBuffers(CpuGroup group, BufferSpec spec) {
        int ranks = group.size();
        this.exchange = new Exchange(group, ranks, spec.timeout().toNanos());
        List<EpBuffer> list = new ArrayList<>(ranks);
        for (int r = 0; r < ranks; r++) {
            list.add(new CpuBuffer(exchange, r, ranks, spec));
        }
        this.buffers = Collections.unmodifiableList(list);
    }

    Exchange exchange() {
        return exchange;
    }

    @Override
    public EpBuffer rank(int rank) {
        if (rank < 0 || rank >= buffers.size()) {
            throw new InvalidArgumentException("rank", rank, "a rank in [0, " + buffers.size() + ")");
        }
        return buffers.get(rank);
    }

    @Override
    public List<EpBuffer> all() {
        return buffers;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (EpBuffer b : buffers) {
            try {
                b.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
