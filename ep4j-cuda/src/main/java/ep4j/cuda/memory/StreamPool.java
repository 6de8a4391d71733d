package ep4j.cuda.memory;

import ep4j.InvalidArgumentException;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaDevice;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.MemoryPool;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ep4j.spi.Closing;

/**
 * Stream-ordered device memory for one device: blocks allocated and freed in the order of a
 * stream ({@code cuMemAllocFromPoolAsync}/{@code cuMemFreeAsync}) from the device's default
 * memory pool. Why (DESIGN section 3, "No device-wide waits"): once warm, ep4j must not call
 * {@code cuMemAlloc}/{@code cuMemFree} on a rank's GPU while its kernels may wait for a peer
 * ({@code cuMemFree} waits for every kernel on the GPU, measured on H200 with driver 580); the
 * stream-ordered calls do not. {@link ep4j.cuda.driver.DriverCalls} shows which were made.
 *
 * <p>Warm: {@link #open} sets the pool's release threshold to the maximum (UINT64_MAX), so
 * memory freed here stays cached in the pool rather than going back to the device at
 * synchronisation points, and after the first calls allocations of the same sizes are served
 * from the cache. The default pool is the device's, shared with anything else in the process that
 * uses it (the CUDA runtime's {@code cudaMallocAsync}): the threshold applies to them too, and
 * stays after {@link #close()}; the cached memory goes back when the primary context ends.
 *
 * <p>Ownership: every {@link Block} belongs to this pool until freed. {@link Block#close()}
 * frees it ordered on the stream it was allocated on (which must still be open), or
 * {@link Block#free(CudaStream)} on another stream of the device. {@link #close()} frees every
 * block still outstanding, each on its own stream, and marks it freed: a block closed after its
 * pool does nothing (it never reaches the driver with a pointer, stream or pool that is gone),
 * and using its address throws {@link IllegalStateException}. Closing twice is harmless. One lock
 * (this pool's monitor) orders allocations, frees and close: a free never races the pool's close.
 *
 * <p>Reuse without the driver: a block freed on the stream it was allocated on goes into a small
 * cache (at most {@link #CACHED_PER_SIZE} blocks of each size, {@link #CACHED_BYTES} in all), and
 * the next allocation of the same size on the same stream takes it back without a driver call.
 * That is the order the driver's pool keeps too (work queued after the free runs after the work
 * queued before it), and it saves a {@code cuMemAllocFromPoolAsync}/{@code cuMemFreeAsync} pair
 * per call, which cost as much host time as a launch (profiled: a low-latency combine's output).
 * A block freed on another stream goes back to the driver at once, and so does every block
 * while reuse is off ({@link #reuse(boolean)}: during a graph capture, where a free must become
 * the graph's node); {@link #close()} frees the cached ones.
 */
public final class StreamPool implements AutoCloseable {
    static final int CACHED_PER_SIZE = 4;
    static final long CACHED_BYTES = 256L << 20;

    private final MemoryPool pool;
    private final CudaDevice device;
    private final Set<Block> outstanding = new HashSet<>();
    private long outstandingBytes;
    /** Freed blocks kept for reuse, by size: address and the stream they were freed on. */
    private final Map<Long, ArrayDeque<Cached>> cache = new HashMap<>();
    private long cachedBytes;
    private boolean reuse = true;
    private boolean closed;

    private record Cached(long address, CudaStream stream) {
    }

    private StreamPool(MemoryPool pool, CudaDevice device) {
        this.pool = pool;
        this.device = device;
    }

    /** The stream-ordered pool of {@code context}'s device, its release threshold set to the maximum. */
    public static StreamPool open(CudaContext context) {
        MemoryPool pool = MemoryPool.deviceDefault(context);
        try {
            pool.setReleaseThreshold(-1L); // UINT64_MAX: keep every freed byte cached
        } catch (RuntimeException | Error e) {
            Closing.closeAllInto(e, pool);
            throw e;
        }
        return new StreamPool(pool, context.device());
    }

    /**
     * {@code bytes} (> 0) of device memory, usable by work queued on {@code stream} (a stream of
     * this pool's device) after this call; other streams must first wait for {@code stream}.
     * Contents undefined.
     */
    public Block allocate(long bytes, CudaStream stream) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("bytes", bytes, "a positive allocation size");
        }
        checkDevice(stream);
        synchronized (this) {
            ensureOpen();
            long address = takeCached(bytes, stream);
            if (address == 0) {
                address = pool.allocateAsync(bytes, stream);
            }
            Block b = new Block(this, address, bytes, stream);
            outstanding.add(b);
            outstandingBytes += bytes;
            return b;
        }
    }

    /** Whether freed blocks are kept for reuse (on by default); off, frees go to the driver. */
    public synchronized void reuse(boolean on) {
        reuse = on;
    }

    /** A cached block of {@code bytes} freed on {@code stream}, or 0. */
    private long takeCached(long bytes, CudaStream stream) {
        ArrayDeque<Cached> q = reuse ? cache.get(bytes) : null;
        if (q != null) {
            for (var it = q.iterator(); it.hasNext(); ) {
                Cached c = it.next();
                if (c.stream() == stream) {
                    it.remove();
                    cachedBytes -= bytes;
                    return c.address();
                }
            }
        }
        return 0;
    }

    /** Blocks freed and kept for reuse (not outstanding, not yet given back to the driver). */
    public synchronized int cachedBlocks() {
        return cache.values().stream().mapToInt(ArrayDeque::size).sum();
    }

    /** The device this pool allocates on. */
    public CudaDevice device() {
        return device;
    }

    /** Blocks allocated and not yet freed. */
    public synchronized int outstandingBlocks() {
        return outstanding.size();
    }

    /** Bytes of the blocks allocated and not yet freed (as requested). */
    public synchronized long outstandingBytes() {
        return outstandingBytes;
    }

    /** Bytes the device's default pool holds, in use or cached, for every user of the pool. */
    public synchronized long reservedBytes() {
        ensureOpen();
        return pool.reservedBytes();
    }

    /**
     * Frees every outstanding block, each ordered on its own stream (queued work that uses it
     * completes first), then lets the pool go; goes on after a failure (a block whose stream was
     * closed stays allocated in the pool until the context ends) and throws the first.
     */
    @Override
    public void close() {
        List<RuntimeException> failures = new ArrayList<>();
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            for (Block b : outstanding) {
                try {
                    MemoryPool.freeAsync(b.address, b.stream);
                } catch (RuntimeException e) {
                    failures.add(new IllegalStateException("closing " + this + ": " + b + " could not be freed"
                            + " (it stays allocated in the pool until the context ends): " + e.getMessage(), e));
                }
                b.freed = true;
            }
            outstanding.clear();
            outstandingBytes = 0;
            cache.forEach((bytes, q) -> q.forEach(c -> {
                try {
                    MemoryPool.freeAsync(c.address(), c.stream());
                } catch (RuntimeException e) {
                    failures.add(new IllegalStateException("closing " + this + ": a cached block of " + bytes
                            + " bytes could not be freed (it stays allocated in the pool until the context ends): "
                            + e.getMessage(), e));
                }
            }));
            cache.clear();
            cachedBytes = 0;
        }
        RuntimeException poolFailure = Closing.closeAll(pool);
        if (poolFailure != null) {
            failures.add(poolFailure);
        }
        if (!failures.isEmpty()) {
            RuntimeException first = failures.get(0);
            failures.subList(1, failures.size()).forEach(first::addSuppressed);
            throw first;
        }
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "StreamPool[device " + device.ordinal() + (closed ? ", closed]" : "]");
    }

    private void free(Block b, CudaStream stream) {
        checkDevice(stream);
        synchronized (this) {
            if (b.freed) {
                return; // freed before, or by close(): nothing of it is left to touch
            }
            ArrayDeque<Cached> q = reuse && stream == b.stream ? cache.computeIfAbsent(b.byteSize, k -> new ArrayDeque<>()) : null;
            if (q != null && q.size() < CACHED_PER_SIZE && cachedBytes + b.byteSize <= CACHED_BYTES) {
                q.add(new Cached(b.address, stream));
                cachedBytes += b.byteSize;
            } else {
                MemoryPool.freeAsync(b.address, stream);
            }
            b.freed = true;
            outstanding.remove(b);
            outstandingBytes -= b.byteSize;
        }
    }

    private void checkDevice(CudaStream stream) {
        if (!stream.context().device().equals(device)) {
            throw new InvalidArgumentException("stream", stream, "a stream of device " + device.ordinal()
                    + " (the device of " + this + ")");
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    /**
     * A stream-ordered allocation: {@link #address()} and {@link #byteSize()} (as requested), and
     * the stream it was allocated on. Freed by {@link #close()} (on that stream) or
     * {@link #free(CudaStream)}; its pool's close() frees it too.
     */
    public static final class Block implements DeviceBlock {
        private final StreamPool owner;
        private final long address;
        private final long byteSize;
        private final CudaStream stream;
        private volatile boolean freed; // written under the owner's lock

        private Block(StreamPool owner, long address, long byteSize, CudaStream stream) {
            this.owner = owner;
            this.address = address;
            this.byteSize = byteSize;
            this.stream = stream;
        }

        /** The device pointer; throws once the block is freed. */
        @Override
        public long address() {
            if (freed) {
                throw new IllegalStateException(this + " was freed");
            }
            return address;
        }

        /** Bytes, as requested. */
        public long byteSize() {
            return byteSize;
        }

        /** The stream the block was allocated on, and that {@link #close()} frees it on. */
        public CudaStream stream() {
            return stream;
        }

        public boolean isFreed() {
            return freed;
        }

        /**
         * Frees the block when {@code stream} (of the pool's device) reaches this point: work
         * queued before on {@code stream} may still use it, work on other streams must be ordered
         * before it (an event) by the caller. Harmless once freed.
         */
        public void free(CudaStream stream) {
            owner.free(this, stream);
        }

        /** Frees the block ordered on the stream it was allocated on. Harmless once freed. */
        @Override
        public void close() {
            owner.free(this, stream);
        }

        @Override
        public String toString() {
            return "StreamPool.Block[0x" + Long.toHexString(address) + ", " + byteSize + " bytes, device "
                    + owner.device.ordinal() + (freed ? ", freed]" : "]");
        }
    }
}
