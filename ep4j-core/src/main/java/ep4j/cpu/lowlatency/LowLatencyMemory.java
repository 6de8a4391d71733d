package ep4j.cpu.lowlatency;

import ep4j.BufferSpec;
import ep4j.cpu.control.RankRuntime;
import ep4j.spi.HostMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The memory of one rank's two low-latency slots, allocated at its first low-latency call: per
 * slot the received rows {@code [L, R*N]} (tokens, scales, source tokens, per-expert counts and
 * ranges), the rank's quantized send rows, and the combine input (allocated at first use).
 */
final class LowLatencyMemory implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final int rank;
    final int local;
    final int capacity;
    final int hidden;
    final MemorySegment[] recvX = new MemorySegment[2];
    final MemorySegment[] recvScales = new MemorySegment[2];
    final MemorySegment[] recvCount = new MemorySegment[2];
    final MemorySegment[] sourceToken = new MemorySegment[2];
    final MemorySegment[] ranges = new MemorySegment[2];
    final MemorySegment[] sendX = new MemorySegment[2];
    final MemorySegment[] sendScales = new MemorySegment[2];
    private final MemorySegment[] combineIn = new MemorySegment[2];

    LowLatencyMemory(RankRuntime rt) {
        BufferSpec spec = rt.spec;
        int n = spec.lowLatencyMaxTokensPerRank();
        rank = rt.rank;
        local = spec.lowLatencyExperts() / rt.ranks;
        capacity = rt.ranks * n;
        hidden = spec.hidden();
        long scaleBytesPerRow = hidden % 128 == 0 ? 4L * (hidden / 128) : 0;
        long rows = (long) local * capacity;
        try {
            for (int s = 0; s < 2; s++) {
                recvX[s] = alloc(rows * hidden * 2);
                recvScales[s] = alloc(rows * scaleBytesPerRow);
                recvCount[s] = alloc(4L * local);
                sourceToken[s] = alloc(4L * rows);
                ranges[s] = alloc(8L * local * rt.ranks);
                sendX[s] = alloc((long) n * hidden * 2);
                sendScales[s] = alloc(n * scaleBytesPerRow);
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private MemorySegment alloc(long bytes) {
        return HostMemory.allocate(arena, bytes, "the low-latency buffers of rank " + rank);
    }

    /** Slot {@code s}'s combine input {@code [L, R*N, H]} bf16, where the expert outputs are read from. */
    MemorySegment combineIn(int s) {
        if (combineIn[s] == null) {
            combineIn[s] = alloc((long) local * capacity * hidden * 2);
        }
        return combineIn[s];
    }

    @Override
    public void close() {
        arena.close();
    }
}
