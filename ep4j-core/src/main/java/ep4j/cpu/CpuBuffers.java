package ep4j.cpu;

import ep4j.spi.Closing;
import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.InvalidArgumentException;
import ep4j.cpu.control.Exchange;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The buffers of every rank of a {@link CpuGroup}, made by one allocate call; they share one
 * {@link Exchange}. The group tracks them until every rank's buffer is closed.
 */
final class CpuBuffers implements EpBuffers {
    private final CpuGroup group;
    private final List<EpBuffer> buffers;
    private final Exchange exchange;
    private final AtomicInteger open;

    CpuBuffers(CpuGroup group, BufferSpec spec) {
        int ranks = group.size();
        this.group = group;
        this.exchange = new Exchange(ranks, spec.timeout().toNanos(), group::abortCause, group::isClosed);
        this.open = new AtomicInteger(ranks);
        List<EpBuffer> list = new ArrayList<>(ranks);
        for (int r = 0; r < ranks; r++) {
            list.add(new CpuBuffer(exchange, r, ranks, spec, this::bufferClosed));
        }
        this.buffers = Collections.unmodifiableList(list);
    }

    Exchange exchange() {
        return exchange;
    }

    /** One rank's buffer was closed; the last one lets the group forget these buffers. */
    private void bufferClosed() {
        if (open.decrementAndGet() == 0) {
            group.forget(this);
        }
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
        Closing.closeAllOrThrow(buffers);
    }
}
