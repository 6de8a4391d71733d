package ep4j.cpu.memory;

import ep4j.DType;
import ep4j.Tensor;
import ep4j.spi.HostMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Host memory for one buffer's results. A result tensor closed by its user gives its memory
 * back here, and the next call of the same size takes it again: no zero-filling and no page
 * faults on repeated calls. Pooled memory is NOT zeroed, so every operation writes every byte
 * of the tensors it takes from here. Closing the pool frees what it holds; memory given back
 * after that is freed at once.
 */
public final class HostPool implements AutoCloseable {
    /** Bytes the pool keeps at most (beyond that, given-back memory is freed). */
    private static final long MAX_POOLED_BYTES = 512L << 20;
    private static final int MAX_PER_SIZE = 4;

    private final Map<Long, ArrayDeque<Block>> free = new HashMap<>();
    private long pooledBytes;
    private boolean closed;

    private static final class Block {
        final Arena arena;
        final MemorySegment segment;

        Block(long bytes, String what) {
            this.arena = Arena.ofShared();
            try {
                this.segment = HostMemory.allocate(arena, bytes, what);
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
        }
    }

    /** A tensor over pooled memory (contents undefined); closing it gives the memory back. */
    public Tensor tensor(DType dtype, long... shape) {
        long bytes = HostMemory.byteSize(dtype, shape);
        Block block = take(bytes, dtype, shape);
        AtomicBoolean given = new AtomicBoolean();
        AutoCloseable lease = () -> {
            if (given.compareAndSet(false, true)) {
                give(block);
            }
        };
        return Tensor.owned(block.segment, block.segment.address(), Tensor.HOST, dtype, lease, shape);
    }

    private Block take(long bytes, DType dtype, long[] shape) {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("the buffer's memory was freed (buffer closed)");
            }
            ArrayDeque<Block> q = free.get(bytes);
            if (q != null && !q.isEmpty()) {
                pooledBytes -= bytes;
                return q.poll();
            }
        }
        return new Block(bytes, "a result tensor " + dtype + java.util.Arrays.toString(shape));
    }

    private void give(Block b) {
        long bytes = b.segment.byteSize();
        java.util.List<Block> evicted = new java.util.ArrayList<>();
        synchronized (this) {
            if (!closed && bytes <= MAX_POOLED_BYTES) {
                ArrayDeque<Block> q = free.computeIfAbsent(bytes, k -> new ArrayDeque<>());
                if (q.size() < MAX_PER_SIZE) {
                    // Make room by freeing blocks of other sizes (the sizes in use now are the ones given back).
                    var it = free.entrySet().iterator();
                    while (pooledBytes + bytes > MAX_POOLED_BYTES && it.hasNext()) {
                        var e = it.next();
                        if (e.getKey() == bytes) {
                            continue;
                        }
                        while (!e.getValue().isEmpty() && pooledBytes + bytes > MAX_POOLED_BYTES) {
                            evicted.add(e.getValue().poll());
                            pooledBytes -= e.getKey();
                        }
                        if (e.getValue().isEmpty()) {
                            it.remove();
                        }
                    }
                    if (pooledBytes + bytes <= MAX_POOLED_BYTES) {
                        q.add(b);
                        pooledBytes += bytes;
                        b = null;
                    }
                }
            }
        }
        for (Block e : evicted) {
            e.arena.close();
        }
        if (b != null) {
            b.arena.close();
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            for (ArrayDeque<Block> q : free.values()) {
                for (Block b : q) {
                    b.arena.close();
                }
            }
            free.clear();
            pooledBytes = 0;
        }
    }
}
