package ep4j.cli.bench;

import ep4j.EpGroup;
import ep4j.cli.job.Job;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The CPU baseline: the same bytes moved by plain {@link MemorySegment#copy} calls, on the rank
 * threads the CPU backend's calls are made from, so both numbers use the same cores. Rank
 * {@code src} owns a source area holding all the bytes it sends (every destination reads
 * distinct bytes); rank {@code dst} owns a destination area and copies from each source in
 * turn, starting with its own and going round, as a dispatch gathers rows. Each rank allocates
 * and writes (first-touches) its own areas before timing. In a job of one process per rank on
 * one host ({@link #acrossProcesses}) the source areas are files in shared memory that every
 * process maps ({@link SharedCopySources}), as the CPU backend's own exchange areas are.
 */
public final class HostCopyBaseline implements Baseline {
    private final Job job;

    /** Every rank in this JVM. */
    public HostCopyBaseline() {
        this(null);
    }

    private HostCopyBaseline(Job job) {
        this.job = job;
    }

    /** One process per rank, all on this host (the job's group is open). */
    static HostCopyBaseline acrossProcesses(Job job) {
        return new HostCopyBaseline(job);
    }

    @Override
    public String name() {
        return "host copy";
    }

    @Override
    public String description() {
        return "MemorySegment.copy of the same bytes between the same ranks, one thread per rank, all at once"
                + (job != null ? "; the sources in shared memory, one process per rank" : "");
    }

    @Override
    public Copy prepare(EpGroup group, long[][] bytes) {
        return new HostCopy(bytes, job == null ? CopySources.inJvm() : new SharedCopySources(job));
    }

    static final class HostCopy implements Copy {
        private final int r;
        private final long[][] bytes;
        private final long[][] srcOffset;
        private final long[] srcSize;
        private final long[][] dstOffset;
        private final long[] dstSize;
        private final MemorySegment[] srcs;
        private final MemorySegment[] dsts;
        private final CopySources sources;
        private final Arena arena = Arena.ofShared();

        HostCopy(long[][] bytes, CopySources sources) {
            this.sources = sources;
            this.r = bytes.length;
            this.bytes = bytes;
            srcOffset = new long[r][r];
            srcSize = new long[r];
            dstOffset = new long[r][r];
            dstSize = new long[r];
            for (int src = 0; src < r; src++) {
                for (int dst = 0; dst < r; dst++) {
                    srcOffset[src][dst] = srcSize[src];
                    srcSize[src] += bytes[dst][src];
                    dstOffset[dst][src] = dstSize[dst];
                    dstSize[dst] += bytes[dst][src];
                }
            }
            srcs = new MemorySegment[r];
            dsts = new MemorySegment[r];
        }

        @Override
        public boolean available() {
            return true;
        }

        @Override
        public String note() {
            return "host copy";
        }

        @Override
        public void setUp(int rank) {
            MemorySegment s = sources.own(rank, areaSize(srcSize[rank]));
            MemorySegment d = arena.allocate(areaSize(dstSize[rank]), 64);
            s.fill((byte) (rank * 37 + 1));
            d.fill((byte) 0);
            srcs[rank] = s;
            dsts[rank] = d;
            long[] sizes = new long[r];
            for (int i = 0; i < r; i++) {
                sizes[i] = areaSize(srcSize[i]);
            }
            sources.share(rank, srcs, sizes);
        }

        private static long areaSize(long bytes) {
            return Math.max(1, bytes);
        }

        @Override
        public void run(int rank) {
            MemorySegment d = dsts[rank];
            for (int k = 0; k < r; k++) {
                int src = (rank + k) % r;
                long n = bytes[rank][src];
                if (n > 0) {
                    MemorySegment.copy(srcs[src], srcOffset[src][rank], d, dstOffset[rank][src], n);
                }
            }
        }

        @Override
        public void close() {
            try {
                sources.close();
            } finally {
                arena.close();
            }
        }
    }
}
