package ep4j.cuda;

import ep4j.BufferSpec;
import ep4j.CombineArgs;
import ep4j.Combined;
import ep4j.DispatchArgs;
import ep4j.DispatchLayout;
import ep4j.Dispatched;
import ep4j.EpBuffer;
import ep4j.EpBuffers;
import ep4j.EpGroup;
import ep4j.GroupSpec;
import ep4j.PeerException;
import ep4j.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * One rank of {@link DeadPeerGpuTest}'s job, a process of its own on the GPU backend, formed from
 * the launcher's variables (RANK, WORLD_SIZE, MASTER_PORT, ...). Usage: {@code MODE DIR TIMEOUT_MS}
 * with MODE "dispatch" or "combine": both ranks make one full round first, then rank 0 makes the
 * call MODE and waits in it for rank 1, which never comes (the test kills it). Rank 0 writes what
 * it raised to DIR/result.0: class, peer, operation, when (microseconds since the epoch), message.
 */
public final class DeadPeerRank {
    private DeadPeerRank() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Path dir = Path.of(args[1]);
        Duration timeout = Duration.ofMillis(Long.parseLong(args[2]));
        GroupSpec spec = GroupSpec.fromEnvironment().backend("cuda");
        int rank = spec.processRank();
        try (EpGroup g = EpGroup.open(spec)) {
            RoutingCase c = RoutingCase.of(2, 16, 1024, 4, 64, 7);
            BufferSpec bs = BufferSpec.normal(c.hidden(), 64).maxTopk(c.topk()).timeout(timeout);
            try (EpBuffers buffers = g.allocate(bs)) {
                EpBuffer buf = buffers.rank(rank);
                try (Tensor x = upload(g, rank, c.x(rank)); Tensor idx = upload(g, rank, c.topkIdx(rank));
                        Tensor w = upload(g, rank, c.topkWeights(rank))) {
                    round(buf, c, x, idx, w, mode, null); // warm: both ranks, every kernel once
                    if (rank == 1) {
                        if (mode.equals("combine")) {
                            try (DispatchLayout l = buf.layout(idx, c.experts());
                                    Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(l))) {
                                Files.writeString(dir.resolve("ready.1"), "");
                                Thread.sleep(Long.MAX_VALUE); // the test kills this process here
                            }
                        }
                        Files.writeString(dir.resolve("ready.1"), "");
                        Thread.sleep(Long.MAX_VALUE);
                    }
                    try {
                        round(buf, c, x, idx, w, mode, dir.resolve("ready.0"));
                        Files.writeString(dir.resolve("result.0"), "none\n-1\n" + mode + "\n0\nthe call returned");
                    } catch (PeerException e) {
                        long at = ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now());
                        Files.writeString(dir.resolve("result.0"), e.getClass().getName() + "\n" + e.peer() + "\n"
                                + e.operation() + "\n" + at + "\n" + e.getMessage());
                    }
                }
            }
        } catch (RuntimeException e) {
            // closing after the peer died may fail too; the result is written, say it and go
            System.err.println("rank " + rank + " close: " + e);
        }
        System.exit(0);
    }

    /**
     * Layout, dispatch and combine. With {@code ready} (rank 0's last round) it writes that file
     * just before the call named {@code mode}, which then waits for rank 1.
     */
    private static void round(EpBuffer buf, RoutingCase c, Tensor x, Tensor idx, Tensor w, String mode, Path ready)
            throws Exception {
        try (DispatchLayout l = buf.layout(idx, c.experts())) {
            if (ready != null && mode.equals("dispatch")) {
                Files.writeString(ready, "");
            }
            try (Dispatched d = buf.dispatch(DispatchArgs.of(x).topk(idx, w).layout(l))) {
                if (ready != null && mode.equals("combine")) {
                    Files.writeString(ready, "");
                }
                try (Combined comb = buf.combine(CombineArgs.of(d.x(), d.handle()))) {
                    comb.x();
                }
            }
        }
    }

    private static Tensor upload(EpGroup g, int rank, Tensor host) {
        try (host) {
            return g.upload(rank, host);
        }
    }
}
