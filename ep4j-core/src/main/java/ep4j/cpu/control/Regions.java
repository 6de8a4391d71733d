package ep4j.cpu.control;

import ep4j.cpu.memory.SharedSegments;
import java.lang.foreign.MemorySegment;

/**
 * The data regions of one rank: its own (created, grown, published in its control block) and the
 * mappings of its peers' (made when first read, made again when the peer's generation changed).
 * Used under the rank's monitor.
 */
final class Regions implements AutoCloseable {
    private static final int KINDS = Region.values().length;

    private final SharedSegments segments;
    private final int rank;
    private final String[] stems;
    private final ControlBlock[] blocks;
    private final MemorySegment[][] mapped;
    private final long[][] generation;
    private final long[][] size;

    Regions(SharedSegments segments, int rank, String[] stems, ControlBlock[] blocks) {
        this.segments = segments;
        this.rank = rank;
        this.stems = stems;
        this.blocks = blocks;
        int ranks = stems.length;
        this.mapped = new MemorySegment[ranks][KINDS];
        this.generation = new long[ranks][KINDS];
        this.size = new long[ranks][KINDS];
    }

    /**
     * This rank's region {@code kind}, at least {@code bytes} large: a new generation (contents
     * zero) when it is smaller, the previous one released. Only while no peer reads it.
     */
    MemorySegment own(Region kind, long bytes) {
        int k = kind.ordinal();
        MemorySegment cur = mapped[rank][k];
        if (cur != null && size[rank][k] >= bytes) {
            return cur;
        }
        long gen = generation[rank][k] + 1;
        long want = Math.max(4096, (bytes + 4095) / 4096 * 4096);
        MemorySegment seg = segments.create(kind.name(stems[rank], gen), want);
        blocks[rank].setRegion(k, gen, want);
        if (cur != null) {
            segments.release(kind.name(stems[rank], generation[rank][k]), true);
        }
        mapped[rank][k] = seg;
        generation[rank][k] = gen;
        size[rank][k] = want;
        return seg;
    }

    /** Peer {@code peer}'s region {@code kind} as it published it last (this rank's own for itself). */
    MemorySegment peer(int peer, Region kind) {
        int k = kind.ordinal();
        if (peer == rank) {
            if (mapped[rank][k] == null) {
                throw new IllegalStateException("rank " + rank + " has no " + kind + " region yet");
            }
            return mapped[rank][k];
        }
        long gen = blocks[peer].regionGeneration(k);
        if (gen == 0) {
            throw new IllegalStateException("peer " + peer + " published no " + kind + " region");
        }
        if (gen != generation[peer][k]) {
            long bytes = blocks[peer].regionSize(k);
            if (mapped[peer][k] != null) {
                segments.release(kind.name(stems[peer], generation[peer][k]), false);
                mapped[peer][k] = null;
            }
            mapped[peer][k] = segments.map(kind.name(stems[peer], gen), bytes);
            generation[peer][k] = gen;
            size[peer][k] = bytes;
        }
        return mapped[peer][k];
    }

    @Override
    public void close() {
        for (int p = 0; p < mapped.length; p++) {
            for (Region kind : Region.values()) {
                int k = kind.ordinal();
                if (mapped[p][k] != null) {
                    mapped[p][k] = null;
                    segments.release(kind.name(stems[p], generation[p][k]), p == rank);
                }
            }
        }
    }
}
