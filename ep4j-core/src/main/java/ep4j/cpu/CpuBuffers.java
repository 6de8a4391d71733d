package ep4j.cpu;

import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.InvalidArgumentException;
import ep4j.cpu.control.Exchange;
import ep4j.cpu.control.Fabric;
import ep4j.spi.Closing;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * The buffers of the ranks a {@link CpuGroup} drives here (every rank in one JVM, one across
 * processes), made by one allocate call: the set's control plane is formed collectively
 * ({@link Fabric#connect}), each rank gets its side of it. The group tracks them until every local
 * rank's buffer is closed.
 */
final class CpuBuffers implements EpBuffers {
    private final CpuGroup group;
    private final List<EpBuffer> buffers;
    private final List<Exchange> exchanges;
    private final int[] ranks;
    private final AtomicInteger open;

    CpuBuffers(CpuGroup group, BufferSpec spec, int number) {
        this.group = group;
        this.ranks = group.localRanks();
        int n = ranks.length;
        CpuBuffer[] made = new CpuBuffer[n];
        BooleanSupplier[] closed = new BooleanSupplier[n];
        for (int i = 0; i < n; i++) {
            int at = i;
            closed[i] = () -> made[at] != null && made[at].isClosed();
        }
        Exchange[] ex = Fabric.connect(group.fabric(), number, ranks, group.size(), spec, closed);
        this.open = new AtomicInteger(n);
        for (int i = 0; i < n; i++) {
            made[i] = new CpuBuffer(ex[i], spec, this::bufferClosed);
        }
        this.exchanges = List.of(ex);
        this.buffers = Collections.unmodifiableList(new ArrayList<>(List.of(made)));
    }

    /** Marks every local rank aborted in shared memory (peers in other processes see it). */
    void markAborted(String why) {
        for (Exchange e : exchanges) {
            e.markAborted(why);
        }
    }

    /** One rank's buffer was closed; the last one lets the group forget these buffers. */
    private void bufferClosed() {
        if (open.decrementAndGet() == 0) {
            group.forget(this);
        }
    }

    @Override
    public EpBuffer rank(int rank) {
        for (int i = 0; i < ranks.length; i++) {
            if (ranks[i] == rank) {
                return buffers.get(i);
            }
        }
        throw new InvalidArgumentException("rank", rank, ranks.length == group.size()
                ? "a rank in [0, " + group.size() + ")" : "a rank this process drives " + java.util.Arrays.toString(ranks));
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
