package ep4j.cpu.memory;

import ep4j.EpException;
import ep4j.spi.HostMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link SharedSegments} for ranks that are threads of this JVM (one per group): a name is an
 * allocation of this JVM, counted by its holders (the creator and every mapper) and freed when the
 * last one lets go. A rank reading a peer's segment thus never sees its memory go, whatever order
 * the ranks close in.
 */
public final class JvmSegments implements SharedSegments {
    private static final AtomicLong GROUPS = new AtomicLong();

    private final String group = "jvm" + GROUPS.incrementAndGet();
    private final Map<String, Entry> entries = new HashMap<>();

    private static final class Entry {
        final Arena arena;
        final MemorySegment segment;
        int holders = 1;
        boolean named = true;

        Entry(Arena arena, MemorySegment segment) {
            this.arena = arena;
            this.segment = segment;
        }
    }

    @Override
    public String stem(int buffer, int rank) {
        return group + ".b" + buffer + ".r" + rank;
    }

    @Override
    public MemorySegment create(String name, long bytes) {
        Arena arena = Arena.ofShared();
        MemorySegment seg;
        try {
            seg = HostMemory.allocate(arena, bytes, "shared segment " + name);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        synchronized (entries) {
            if (entries.containsKey(name)) {
                arena.close();
                throw new IllegalStateException("shared segment " + name + " exists already");
            }
            entries.put(name, new Entry(arena, seg));
        }
        return seg;
    }

    @Override
    public MemorySegment map(String name, long bytes) {
        synchronized (entries) {
            Entry e = entries.get(name);
            if (e == null || !e.named) {
                throw new EpException("shared segment " + name + " is gone (its rank released it)");
            }
            if (e.segment.byteSize() < bytes) {
                throw new EpException("shared segment " + name + " has " + e.segment.byteSize() + " bytes, not "
                        + bytes);
            }
            e.holders++;
            return e.segment;
        }
    }

    @Override
    public void release(String name, boolean owner) {
        Arena free = null;
        synchronized (entries) {
            Entry e = entries.get(name);
            if (e == null || (owner && !e.named)) {
                return;
            }
            if (owner) {
                e.named = false;
            }
            if (--e.holders == 0) {
                entries.remove(name);
                free = e.arena;
            }
        }
        if (free != null) {
            free.close();
        }
    }

    @Override
    public int removeLeftovers(String stem) {
        return 0; // a thread cannot die alone: its segments go with the group
    }

    @Override
    public boolean crossProcess() {
        return false;
    }

    @Override
    public void close() {
        Map<String, Entry> all;
        synchronized (entries) {
            all = new HashMap<>(entries);
            entries.clear();
        }
        for (Entry e : all.values()) {
            e.arena.close();
        }
    }
}
