package ep4j.cuda;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.InvalidArgumentException;
import ep4j.cuda.exchange.RankExchange;
import java.util.ArrayList;
import java.util.List;

/** The buffers of every local GPU rank; each knows the others' signal arrays and mailboxes. */
final class CudaBuffers implements ep4j.EpBuffers {
    private final CudaGroup group;
    private final RankExchange exchange;
    private final List<EpBuffer> buffers;

    /** Makes every rank's buffer; when one fails, those made are freed and the failure thrown. */
    CudaBuffers(CudaGroup group, BufferSpec spec) {
        this.group = group;
        this.exchange = new RankExchange(group.size());
        CudaBuffer[] all = new CudaBuffer[group.size()];
        List<EpBuffer> made = new ArrayList<>();
        try {
            for (int r = 0; r < all.length; r++) {
                all[r] = new CudaBuffer(group, r, spec, exchange);
                made.add(all[r]);
            }
        } catch (RuntimeException | Error e) {
            RuntimeException closing = closeAll(made);
            if (closing != null) {
                e.addSuppressed(closing);
            }
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

    /** Closes every buffer, even after one fails: the first failure is thrown, the others suppressed. */
    @Override
    public void close() {
        RuntimeException first = closeAll(buffers);
        group.forget(this, exchange);
        if (first != null) {
            throw first;
        }
    }

    /** Closes each buffer; returns the first failure with the later ones suppressed, or null. */
    private static RuntimeException closeAll(List<EpBuffer> list) {
        RuntimeException first = null;
        for (EpBuffer b : list) {
            try {
                b.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        return first;
    }
}
