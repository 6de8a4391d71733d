package ep4j.cli.bench;

import ep4j.cli.job.Job;
import ep4j.cli.job.SharedFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The host-copy baseline's source areas in a job on one host: each rank's is a {@link SharedFile}
 * it creates and fills; the ranks swap the files' names through the job's rendezvous and map each
 * other's read-only; once all have mapped them, each removes its file's name (the mappings stay,
 * and a killed job leaves nothing behind).
 */
final class SharedCopySources implements CopySources {
    private final Job job;
    private SharedFile own;
    private final List<SharedFile> peers = new ArrayList<>();
    private static final long PAGE = 4096;
    /** Keeps the page reads from being optimised away. */
    private volatile byte sink;

    SharedCopySources(Job job) {
        this.job = job;
    }

    @Override
    public MemorySegment own(int rank, long bytes) {
        own = SharedFile.create("bench-copy", bytes);
        return own.segment();
    }

    @Override
    public void share(int rank, MemorySegment[] areas, long[] sizes) {
        List<byte[]> names = job.allGather("bench.copy",
                own.path().toString().getBytes(StandardCharsets.UTF_8), BenchRanks.TIMEOUT);
        for (int r = 0; r < areas.length; r++) {
            if (areas[r] == null) {
                SharedFile f = SharedFile.open(Path.of(new String(names.get(r), StandardCharsets.UTF_8)), sizes[r],
                        false);
                peers.add(f);
                areas[r] = f.segment();
                touch(f.segment());
            }
        }
        job.barrier("bench.copy-mapped", BenchRanks.TIMEOUT);
        own.unlink();
    }

    /**
     * Reads a byte of every page, so that mapping the pages into this process (minor faults, which
     * threads of one JVM never take) is not part of the first timed copy.
     */
    private void touch(MemorySegment area) {
        byte x = 0;
        for (long at = 0; at < area.byteSize(); at += PAGE) {
            x ^= area.get(ValueLayout.JAVA_BYTE, at);
        }
        sink = x;
    }

    @Override
    public void close() {
        for (SharedFile f : peers) {
            f.close();
        }
        peers.clear();
        if (own != null) {
            own.close();
            own = null;
        }
    }
}
