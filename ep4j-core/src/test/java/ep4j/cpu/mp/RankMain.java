package ep4j.cpu.mp;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.PeerDiedException;
import ep4j.Tensor;
import ep4j.oracle.Cases;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * One rank of a multi-process CPU group, as a child JVM of a test ({@link ChildJvms}):
 * {@code RankMain <mode> <rank> <ranks> <jobDir> <jobId> <timeoutMillis>}. The ranks meet through
 * a {@link FileRendezvous} in {@code jobDir}, where they also leave marks and results for the test.
 *
 * <ul>
 *   <li>{@code scenario}: runs {@link Scenario} and writes its outputs to {@code out.<rank>}.</li>
 *   <li>{@code kill-dispatch}, {@code kill-combine}: a warm-up dispatch and combine, then the
 *       call under test. Ranks 0 and 1 mark {@code ready.<rank>} and make it (rank 1 is the one
 *       the test kills while it waits inside); rank 2 makes it once the test marks {@code go}
 *       (after the kill). A survivor writes what it caught to {@code result.<rank>}: the
 *       exception's class, its peer and operation, the instant caught (epoch microseconds), and
 *       its message.</li>
 *   <li>{@code hang}: forms the group and allocates, marks {@code ready.<rank>}, then sleeps until
 *       killed (a job killed whole).</li>
 *   <li>{@code exit}: forms the group, allocates, makes a dispatch and a combine, meets the other
 *       ranks, and exits without closing anything (the shutdown hook's case).</li>
 * </ul>
 */
public final class RankMain {
    private static final Cases.Case CASE = Cases.options().ranks(3).experts(6).topk(2).tokens(4, 5, 3).hidden(128)
            .seed(77).generate();

    private RankMain() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        int rank = Integer.parseInt(args[1]);
        int ranks = Integer.parseInt(args[2]);
        Path dir = Path.of(args[3]);
        String jobId = args[4];
        Duration timeout = Duration.ofMillis(Long.parseLong(args[5]));
        try {
            run(mode, rank, ranks, dir, jobId, timeout);
        } catch (Throwable t) {
            StringWriter s = new StringWriter();
            t.printStackTrace(new PrintWriter(s));
            Files.writeString(dir.resolve("error." + rank), s.toString());
            System.exit(1);
        }
        System.exit(0);
    }

    private static void run(String mode, int rank, int ranks, Path dir, String jobId, Duration timeout)
            throws Exception {
        FileRendezvous rv = new FileRendezvous(dir, jobId, rank, ranks);
        if (mode.equals("exit")) {
            EpGroup g = EpGroup.open(GroupSpec.ranks(ranks).backend("cpu").process(rank, rank, () -> rv));
            EpBuffer buf = g.allocate(BufferSpec.normal(128, 8).timeout(timeout)).rank(rank);
            try (Dispatched d = dispatch(buf, rank)) {
                combine(buf, d);
            }
            rv.barrier("done", timeout);
            return; // main exits without closing the group: the shutdown hook removes its files
        }
        BufferSpec spec = mode.equals("scenario") ? Scenario.spec(timeout) : BufferSpec.normal(128, 8).timeout(timeout);
        try (EpGroup g = EpGroup.open(GroupSpec.ranks(ranks).backend("cpu").process(rank, rank, () -> rv));
                EpBuffers b = g.allocate(spec)) {
            EpBuffer buf = b.rank(rank);
            switch (mode) {
                case "scenario" -> {
                    Outputs o = Scenario.run(rank, buf);
                    try (OutputStream out = Files.newOutputStream(dir.resolve("out." + rank + ".tmp"))) {
                        o.writeTo(out);
                    }
                    Files.move(dir.resolve("out." + rank + ".tmp"), dir.resolve("out." + rank));
                }
                case "kill-dispatch", "kill-combine" -> killRun(mode.equals("kill-combine"), rank, buf, dir);
                case "hang" -> {
                    Files.writeString(dir.resolve("ready." + rank), "");
                    Thread.sleep(Long.MAX_VALUE);
                }
                default -> throw new IllegalArgumentException("mode " + mode);
            }
        }
    }

    private static Dispatched dispatch(EpBuffer buf, int r) {
        Tensor idx = CASE.topkIdx(r);
        try (DispatchLayout layout = buf.layout(idx, CASE.experts)) {
            return buf.dispatch(DispatchArgs.of(CASE.x(r)).topk(idx, CASE.topkWeights(r)).layout(layout));
        }
    }

    private static void combine(EpBuffer buf, Dispatched d) {
        buf.combine(CombineArgs.of(d.x(), d.handle())).close();
    }

    private static void killRun(boolean inCombine, int rank, EpBuffer buf, Path dir) throws Exception {
        try (Dispatched warm = dispatch(buf, rank)) {
            combine(buf, warm); // every rank has mapped every peer's region once
        }
        Dispatched d = inCombine ? dispatch(buf, rank) : null;
        if (rank == 2) {
            while (!Files.exists(dir.resolve("go"))) {
                Thread.sleep(1);
            }
        } else {
            Files.writeString(dir.resolve("ready." + rank), "");
        }
        try {
            if (inCombine) {
                combine(buf, d);
            } else {
                dispatch(buf, rank).close();
            }
            Files.writeString(dir.resolve("result." + rank), "returned");
        } catch (Throwable t) {
            Instant caught = Instant.now();
            int peer = t instanceof PeerDiedException p ? p.peer() : -1;
            String op = t instanceof PeerDiedException p ? p.operation() : "";
            Files.writeString(dir.resolve("result." + rank), t.getClass().getName() + "\n" + peer + "\n" + op + "\n"
                    + ChronoUnit.MICROS.between(Instant.EPOCH, caught) + "\n" + t.getMessage());
        }
    }
}
