package ep4j.cuda;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.InvalidArgumentException;
import ep4j.cuda.exchange.RankExchange;
import java.util.ArrayList;
import java.util.List;

/** The buffers of every local GPU rank; each knows the others' signal arrays and mailboxes. */
final class CudaBuffers implements ep4j.EpBuffers {
    private final List<EpBuffer> buffers;

    CudaBuffers(CudaGroup group, BufferSpec spec) {
        RankExchange exchange = new RankExchange(group.size());
        CudaBuffer[] all = new CudaBuffer[group.size()];
        List<EpBuffer> made = new ArrayList<>();
        try {
            for (int r = 0; r < all.length; r++) {
                all[r] = new CudaBuffer(group, r, spec, exchange);
                made.add(all[r]);
            }
        } catch (RuntimeException e) {
            made.forEach(EpBuffer::close);
            throw e;
        }
        for (CudaBuffer b : all) {
            b.connect(all);
        }
        group.register(exchange);
        this.buffers = List.copyOf(made);
    }

    @Override
    public EpBuffer rank(int rank) {
        if (rank < 0 || rank >= buffers.size()) {
            throw new InvalidArgumentException("rank", rank, "0 to " + (buffers.size() - 1));
        }
        return buffers.get(rank);
    }

    @Override
    public List<EpBuffer> all() {
        return buffers;
    }

    @Override
    public void close() {
        buffers.forEach(EpBuffer::close);
    }
}
