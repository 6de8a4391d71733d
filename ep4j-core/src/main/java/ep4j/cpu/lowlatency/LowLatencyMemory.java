package ep4j.cpu.lowlatency;

import ep4j.BufferSpec;
import ep4j.cpu.control.RankRuntime;
import ep4j.cpu.control.Region;
import ep4j.spi.HostMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The memory of one rank's two low-latency slots, allocated at its first low-latency call. What
 * peers read is in the rank's shared regions, at offsets every rank computes alike from the spec:
 * per slot the quantized send rows, their scales and the tokens of every expert
 * ({@link ExpertTokens}) in {@link Region#LOW_LATENCY}, and the combine inputs {@code [L, R*N, H]}
 * in {@link Region#LOW_LATENCY_COMBINE} (made at first use). What only this rank reads is private:
 * per slot the received rows {@code [L, R*N]} (tokens, scales, source tokens, per-expert counts and
 * ranges).
 */
final class LowLatencyMemory implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final RankRuntime rt;
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
    final MemorySegment[] expertTokens = new MemorySegment[2];
    private final MemorySegment[] combineIn = new MemorySegment[2];
    private final long sendXBytes;
    private final long scaleBytes;
    private final long expertTokenBytes;
    private final long slotBytes;
    private final long combineBytes;
    private final int experts;

    LowLatencyMemory(RankRuntime rt) {
        this.rt = rt;
        BufferSpec spec = rt.spec;
        int n = spec.lowLatencyMaxTokensPerRank();
        local = spec.lowLatencyExperts() / rt.ranks;
        capacity = rt.ranks * n;
        hidden = spec.hidden();
        experts = spec.lowLatencyExperts();
        long scaleBytesPerRow = hidden % 128 == 0 ? 4L * (hidden / 128) : 0;
        long rows = (long) local * capacity;
        sendXBytes = align((long) n * hidden * 2);
        scaleBytes = align(n * scaleBytesPerRow);
        expertTokenBytes = align(ExpertTokens.bytes(spec.lowLatencyExperts(), (long) n * spec.maxTopk()));
        slotBytes = sendXBytes + scaleBytes + expertTokenBytes;
        combineBytes = align(rows * hidden * 2);
        try {
            for (int s = 0; s < 2; s++) {
                recvX[s] = alloc(rows * hidden * 2);
                recvScales[s] = alloc(rows * scaleBytesPerRow);
                recvCount[s] = alloc(4L * local);
                sourceToken[s] = alloc(4L * rows);
                ranges[s] = alloc(8L * local * rt.ranks);
            }
            MemorySegment shared = rt.exchange.ownRegion(Region.LOW_LATENCY, 2 * slotBytes);
            for (int s = 0; s < 2; s++) {
                MemorySegment slot = slot(shared, s);
                sendX[s] = slot.asSlice(0, sendXBytes);
                sendScales[s] = slot.asSlice(sendXBytes, scaleBytes);
                expertTokens[s] = slot.asSlice(sendXBytes + scaleBytes, expertTokenBytes);
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static long align(long bytes) {
        return (bytes + 63) & ~63L;
    }

    private MemorySegment alloc(long bytes) {
        return HostMemory.allocate(arena, bytes, "the low-latency buffers of rank " + rt.rank);
    }

    private MemorySegment slot(MemorySegment region, int s) {
        return region.asSlice(s * slotBytes, slotBytes);
    }

    /** Peer {@code peer}'s send rows of slot {@code s}. */
    MemorySegment peerSendX(int peer, int s) {
        return slot(rt.exchange.region(peer, Region.LOW_LATENCY), s).asSlice(0, sendXBytes);
    }

    /** Peer {@code peer}'s send scales of slot {@code s}. */
    MemorySegment peerSendScales(int peer, int s) {
        return slot(rt.exchange.region(peer, Region.LOW_LATENCY), s).asSlice(sendXBytes, scaleBytes);
    }

    /** Peer {@code peer}'s tokens of every expert, of slot {@code s}. */
    ExpertTokens peerExpertTokens(int peer, int s) {
        return new ExpertTokens(slot(rt.exchange.region(peer, Region.LOW_LATENCY), s)
                .asSlice(sendXBytes + scaleBytes, expertTokenBytes), experts);
    }

    /** Slot {@code s}'s combine input {@code [L, R*N, H]} bf16, where peers read the expert outputs. */
    MemorySegment combineIn(int s) {
        if (combineIn[s] == null) {
            MemorySegment shared = rt.exchange.ownRegion(Region.LOW_LATENCY_COMBINE, 2 * combineBytes);
            combineIn[0] = shared.asSlice(0, combineBytes);
            combineIn[1] = shared.asSlice(combineBytes, combineBytes);
        }
        return combineIn[s];
    }

    /** Peer {@code peer}'s combine input of slot {@code s}. */
    MemorySegment peerCombineIn(int peer, int s) {
        return rt.exchange.region(peer, Region.LOW_LATENCY_COMBINE).asSlice(s * combineBytes, combineBytes);
    }

    /** Frees the private memory; the shared regions go with the rank's exchange. */
    @Override
    public void close() {
        arena.close();
    }
}
