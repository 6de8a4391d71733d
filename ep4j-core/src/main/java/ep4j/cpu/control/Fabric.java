package ep4j.cpu.control;

import ep4j.BufferSpec;
import ep4j.EpException;
import ep4j.cpu.memory.SharedSegments;
import ep4j.process.Liveness;
import ep4j.spi.Rendezvous;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Forms the control plane of one buffer set, collectively: each rank this process drives creates
 * its control segment and publishes its name (through the job's {@link Rendezvous} when the ranks
 * are processes; in one JVM the names are at hand), maps every peer's, checks that every rank
 * allocated the same {@link BufferSpec}, and, across processes, meets the others at a barrier, so
 * that no rank calls before every peer can see it.
 */
public final class Fabric {
    private Fabric() {
    }

    /**
     * What a group gives every buffer set it allocates.
     *
     * @param segments     where shared memory comes from
     * @param bell         wakes this JVM's waiting ranks
     * @param rendezvous   the job's store when the ranks are processes, else null
     * @param abortCause   the group's abort cause, null while it is not aborted
     * @param groupClosed  whether the group was closed
     */
    public record Group(SharedSegments segments, Doorbell bell, @Nullable Rendezvous rendezvous,
            Supplier<Throwable> abortCause, BooleanSupplier groupClosed) {
    }

    /** The name of the control segment of the rank with stem {@code stem}. */
    static String controlName(String stem) {
        return stem + ".ctl";
    }

    /**
     * Connects the ranks this process drives to every peer of buffer set {@code buffer}.
     *
     * @param g          the group
     * @param buffer     the set's number in the group (the same on every rank)
     * @param localRanks the ranks this process drives
     * @param ranks      the group size
     * @param spec       the concluded spec, which every rank must have allocated
     * @param selfClosed per local rank (same order), whether its buffer was closed
     * @return the exchange of every local rank, in the order of {@code localRanks}
     * @throws EpException when a peer allocated another spec, or did not come in time
     */
    public static Exchange[] connect(Group g, int buffer, int[] localRanks, int ranks, BufferSpec spec,
            BooleanSupplier[] selfClosed) {
        SharedSegments seg = g.segments();
        Duration timeout = spec.timeout();
        String[] stems = new String[ranks];
        MemorySegment[] own = new MemorySegment[ranks];
        List<Held> held = new ArrayList<>(); // released again if the setup fails
        try {
            long pid = seg.pid();
            long start = Liveness.selfStart();
            long bytes = ControlBlock.bytes(ranks);
            for (int r : localRanks) {
                stems[r] = seg.stem(buffer, r);
                own[r] = seg.create(controlName(stems[r]), bytes);
                held.add(new Held(controlName(stems[r]), true));
                new ControlBlock(own[r]).init(r, ranks, pid, start);
                if (g.rendezvous() != null) {
                    g.rendezvous().put(key(buffer, r), (stems[r] + "\n" + spec).getBytes(StandardCharsets.UTF_8));
                }
            }
            if (g.rendezvous() != null) {
                for (int p = 0; p < ranks; p++) {
                    if (stems[p] == null) {
                        stems[p] = peerStem(g.rendezvous(), buffer, p, spec, localRanks[0], timeout);
                    }
                }
            }
            Exchange[] out = new Exchange[localRanks.length];
            ControlBlock[][] views = new ControlBlock[localRanks.length][ranks];
            for (int i = 0; i < localRanks.length; i++) {
                int r = localRanks[i];
                for (int p = 0; p < ranks; p++) {
                    MemorySegment m = own[p];
                    if (p != r) {
                        m = seg.map(controlName(stems[p]), bytes);
                        held.add(new Held(controlName(stems[p]), false));
                    }
                    views[i][p] = new ControlBlock(m);
                    String problem = views[i][p].headerProblem(p, ranks);
                    if (problem != null) {
                        throw new EpException("allocate on rank " + r + ": the shared memory of rank " + p + " holds "
                                + problem);
                    }
                }
            }
            if (g.rendezvous() != null) {
                g.rendezvous().barrier("ep4j.cpu.b" + buffer + ".mapped", timeout);
            }
            for (int i = 0; i < localRanks.length; i++) {
                int r = localRanks[i];
                ControlBlock[] blocks = views[i];
                Waits waits = new Waits(r, blocks, g.bell(), timeout.toNanos(), g.abortCause(), g.groupClosed(),
                        selfClosed[i], seg.crossProcess());
                out[i] = new Exchange(r, blocks, seg, stems.clone(), g.bell(), waits);
                blocks[r].setState(ControlBlock.STATE_OPEN);
            }
            return out;
        } catch (RuntimeException | Error e) {
            for (Held h : held) {
                seg.release(h.name(), h.owner());
            }
            throw e;
        }
    }

    /** A segment the setup created ({@code owner}) or mapped. */
    private record Held(String name, boolean owner) {
    }

    private static String key(int buffer, int rank) {
        return "ep4j.cpu.b" + buffer + ".r" + rank;
    }

    /** Peer {@code p}'s stem, after checking that it allocated the same spec as this rank. */
    private static String peerStem(Rendezvous rv, int buffer, int p, BufferSpec spec, int self, Duration timeout) {
        String value = new String(rv.get(key(buffer, p), timeout), StandardCharsets.UTF_8);
        int nl = value.indexOf('\n');
        String theirs = nl < 0 ? "?" : value.substring(nl + 1);
        if (nl < 0 || !theirs.equals(spec.toString())) {
            throw new EpException("allocate on rank " + self + ": rank " + p + " allocated buffer #" + buffer + " with "
                    + theirs + " but this rank with " + spec
                    + " (every rank must allocate the same buffers, in the same order)");
        }
        return value.substring(0, nl);
    }
}
