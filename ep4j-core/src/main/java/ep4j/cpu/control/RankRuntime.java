package ep4j.cpu.control;

import ep4j.spi.Closing;
import ep4j.BufferSpec;
import ep4j.EpBuffer;
import ep4j.OwnedResult;
import ep4j.cpu.memory.HostPool;
import java.util.ArrayList;
import java.util.List;

/**
 * What every path of one CPU rank's buffer shares: who the rank is, what the buffer was sized
 * for, its side of the exchange with its peers, the memory of its results and the results it
 * still owns. The paths run under this object's monitor (one call of the rank at a time; a
 * low-latency hook may come from another thread).
 */
public final class RankRuntime {
    /** The buffer the API sees: results and handles name it as their owner. */
    public final EpBuffer owner;
    /** This rank. */
    public final int rank;
    /** The group size. */
    public final int ranks;
    /** What the buffer was sized for. */
    public final BufferSpec spec;
    /** This rank's side of the exchange with its peers (it numbers the collective calls). */
    public final Exchange exchange;
    /** Memory of the results this rank hands out. */
    public final HostPool pool = new HostPool();

    private final List<AutoCloseable> results = new ArrayList<>();
    private final Object closeLock = new Object();
    private volatile boolean closed;

    /**
     * The runtime of rank {@code rank}.
     *
     * @param owner    the buffer of the rank
     * @param exchange this rank's side of the buffer set's exchange
     * @param spec     the concluded spec
     */
    public RankRuntime(EpBuffer owner, Exchange exchange, BufferSpec spec) {
        this.owner = owner;
        this.exchange = exchange;
        this.rank = exchange.rank;
        this.ranks = exchange.ranks;
        this.spec = spec;
    }

    /** Whether the buffer was closed. */
    public boolean isClosed() {
        return closed;
    }

    /** Throws {@link IllegalStateException} once the buffer was closed. */
    public void checkOpen() {
        if (closed) {
            throw new IllegalStateException("EpBuffer of rank " + rank + " (cpu) is closed");
        }
    }

    /** Marks the buffer closed; false when it was already. */
    public boolean markClosed() {
        synchronized (closeLock) {
            if (closed) {
                return false;
            }
            closed = true;
            return true;
        }
    }

    /** Keeps {@code result} to close with the buffer (closed ones are forgotten now and then). */
    public void track(AutoCloseable result) {
        synchronized (results) {
            if (results.size() >= 64) {
                results.removeIf(r -> r instanceof OwnedResult o && o.isClosed());
            }
            results.add(result);
        }
    }

    /**
     * Closes every result still tracked, then the pool, then {@code more}; each is closed even
     * when one fails, and the first failure is thrown with the others suppressed.
     */
    public void closeAll(AutoCloseable... more) {
        List<AutoCloseable> owned;
        synchronized (results) {
            owned = new ArrayList<>(results);
            results.clear();
        }
        owned.add(pool);
        owned.addAll(List.of(more));
        Closing.closeAllOrThrow(owned);
    }
}
