package ep4j.cpu.control;

import ep4j.EpException;
import ep4j.cpu.memory.SharedSegments;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * One rank's side of the control plane of a CPU buffer set (one allocate call), the same whether
 * the ranks are threads of this JVM or processes: no Java object passes between ranks, only words
 * and rows in shared segments ({@link SharedSegments}).
 *
 * <p>The protocol, after the device's (ep4j-cuda control.cuh): every collective call of a rank is
 * numbered (1, 2, ... per buffer, the same on every rank) and posted in the rank's
 * {@link ControlBlock}: a call record (number, signature) then the {@code posted} word. Its data
 * (what peers read) is in one of the rank's data {@link Region}s, written before the post. A peer
 * waits for {@code posted >= n}, compares the signatures (a different call under the same number is
 * a "collective mismatch" on both sides, never a wrong result), reads, and acknowledges by writing
 * {@code acks[itself] = n} in the poster's block; a normal call returns once every peer has
 * acknowledged it, so its region can be written again. Low-latency calls free their slots through
 * their own settle words. Every wait is bounded ({@link Waits}); a call that fails after it was
 * posted marks {@code failed = n}, so a peer waiting for its acknowledgement fails at once
 * ("poisoned") instead of timing out, and a group abort marks {@code aborted}.
 */
public final class Exchange implements AutoCloseable {
    /** This rank. */
    public final int rank;
    /** The group size. */
    public final int ranks;
    private final ControlBlock self;
    private final ControlBlock[] blocks;
    private final SharedSegments segments;
    private final String[] stems;
    private final Doorbell bell;
    private final Waits waits;
    private final Regions regions;
    /** The latest normal call posted (its region is read by peers until they acknowledge it). */
    private long lastNormal;
    private String lastSignature = "";
    private boolean closed;

    Exchange(int rank, ControlBlock[] blocks, SharedSegments segments, String[] stems, Doorbell bell, Waits waits) {
        this.rank = rank;
        this.ranks = blocks.length;
        this.self = blocks[rank];
        this.blocks = blocks;
        this.segments = segments;
        this.stems = stems;
        this.bell = bell;
        this.waits = waits;
        this.regions = new Regions(segments, rank, stems, blocks);
    }

    /** The latest call this rank posted (0: none). */
    public long lastPosted() {
        return self.posted();
    }

    /**
     * Numbers and posts this rank's next collective call, whose data is in place. Fails at once,
     * posting nothing, when the group was aborted.
     *
     * @param op        the call, for messages
     * @param signature what the call is, compared with every peer's call of the same number
     * @return the call's number
     */
    public long post(String op, String signature) {
        waits.throwIfAborted(op);
        long seq = self.posted() + 1;
        self.post(seq, signature);
        lastSignature = signature;
        bell.ring();
        return seq;
    }

    /** {@link #post} for a call whose data is in the {@link Region#NORMAL} region. */
    public long postNormal(String op, String signature) {
        long seq = post(op, signature);
        lastNormal = seq;
        return seq;
    }

    /**
     * Waits until every rank posted call {@code seq} and checks that it is the same call
     * (signature) everywhere.
     */
    public void awaitPosts(String op, long seq, String signature) {
        String mine = new String(ControlBlock.signatureBytes(signature), StandardCharsets.UTF_8);
        for (int p = 0; p < ranks; p++) {
            if (p == rank) {
                continue;
            }
            ControlBlock b = blocks[p];
            int peer = p;
            try {
                waits.until(op, p, b::posted, seq, Waits.OnPeerFailure.IGNORE, () -> "peer " + peer + " posted call #"
                        + b.posted() + ", this rank waits for call #" + seq + " (" + signature + ")");
            } catch (EpException e) {
                // A peer that found a mismatch first may close before this rank has looked at
                // every post: the mismatch, not the closed peer, is the news.
                for (int q = 0; q < ranks; q++) {
                    if (q != rank && blocks[q].posted() >= seq) {
                        checkSame(q, seq, signature, mine);
                    }
                }
                throw e;
            }
            checkSame(p, seq, signature, mine);
        }
    }

    /** Fails when peer {@code p}'s posted call {@code seq} is not this rank's ({@code mine}). */
    private void checkSame(int p, long seq, String signature, String mine) {
        String theirs = blocks[p].signature(seq);
        if (theirs == null) {
            throw new EpException("collective calls out of step on rank " + rank + ": peer " + p + " is more than "
                    + ControlBlock.RING + " calls ahead of call #" + seq + " (" + signature + ")");
        }
        if (!theirs.equals(mine)) {
            throw new EpException("collective mismatch on rank " + rank + ": call #" + seq + " is " + signature
                    + " here but " + theirs + " on rank " + p
                    + " (every rank must make the same calls on a buffer, in the same order)");
        }
    }

    /** This rank has finished reading what {@code peer} posted as call {@code seq}. */
    public void markRead(int peer, long seq) {
        blocks[peer].setAck(rank, seq);
        bell.ring();
    }

    /** Waits until every rank has read this rank's call {@code seq} (so its inputs may change again). */
    public void awaitReads(String op, long seq) {
        for (int p = 0; p < ranks; p++) {
            int peer = p;
            waits.until(op, p, () -> self.ack(peer), seq, Waits.OnPeerFailure.FAIL,
                    () -> "peer " + peer + " has not finished reading call #" + seq + " (" + lastSignature + "); "
                            + readers(seq) + " of " + ranks + " ranks done");
        }
    }

    private int readers(long seq) {
        int n = 0;
        for (int p = 0; p < ranks; p++) {
            if (self.ack(p) >= seq) {
                n++;
            }
        }
        return n;
    }

    /**
     * This rank's normal region, at least {@code bytes} large, to write the data of its next
     * normal call into: first waits until every peer is done with the previous one (read it, or
     * failed that call), which a call that failed here may not have waited for.
     */
    public MemorySegment normalRegion(String op, long bytes) {
        long prev = lastNormal;
        if (prev > 0) {
            for (int p = 0; p < ranks; p++) {
                int peer = p;
                waits.until(op, p, () -> self.ack(peer), prev, Waits.OnPeerFailure.DONE,
                        () -> "peer " + peer + " has not finished reading call #" + prev
                                + ", whose memory this rank's next call reuses");
            }
        }
        return regions.own(Region.NORMAL, bytes);
    }

    /** This rank's region {@code kind}, at least {@code bytes} large (grown only while no peer reads it). */
    public MemorySegment ownRegion(Region kind, long bytes) {
        return regions.own(kind, bytes);
    }

    /** Peer {@code peer}'s region {@code kind} (this rank's own for itself), to read what it posted. */
    public MemorySegment region(int peer, Region kind) {
        try {
            return regions.peer(peer, kind);
        } catch (EpException e) {
            String why = blocks[peer].state() == ControlBlock.STATE_CLOSED ? ": it closed its buffer"
                    : !waits.isAlive(peer) ? ": its process died" : "";
            throw new EpException("rank " + rank + " cannot read the " + kind + " region of peer " + peer + why + " ("
                    + e.getMessage() + ")", e);
        }
    }

    /** Every low-latency dispatch of this rank up to {@code watermark} is received or stale here. */
    public void settleLowLatencyDispatch(long watermark) {
        if (watermark > self.llSettled()) {
            self.setLlSettled(watermark);
            bell.ring();
        }
    }

    /** Waits until every peer has received (or dropped) this rank's low-latency dispatch {@code generation}. */
    public void awaitLowLatencyDispatchSettled(String op, long generation) {
        for (int p = 0; p < ranks; p++) {
            ControlBlock b = blocks[p];
            int peer = p;
            waits.until(op, p, b::llSettled, generation, Waits.OnPeerFailure.IGNORE, () -> "peer " + peer
                    + " settled low-latency dispatches up to #" + b.llSettled() + ", this rank needs #" + generation
                    + " settled to reuse its send buffer");
        }
    }

    /** This rank received (or dropped) every low-latency combine on {@code slot} up to call {@code seq}. */
    public void settleLowLatencyCombine(int slot, long seq) {
        if (seq > self.llcSettled(slot)) {
            self.setLlcSettled(slot, seq);
            bell.ring();
        }
    }

    /** Waits until every peer has received (or dropped) this rank's low-latency combine call {@code seq} on {@code slot}. */
    public void awaitLowLatencyCombineSettled(String op, int slot, long seq) {
        for (int p = 0; p < ranks; p++) {
            ControlBlock b = blocks[p];
            int peer = p;
            waits.until(op, p, () -> b.llcSettled(slot), seq, Waits.OnPeerFailure.IGNORE, () -> "peer " + peer
                    + " settled low-latency combines on slot " + slot + " up to call #" + b.llcSettled(slot)
                    + ", this rank needs call #" + seq + " settled");
        }
    }

    /**
     * Before this rank's memory goes (its buffer closes), across processes: waits until every peer
     * has read what this rank's low-latency calls published for it, that is until the peer's
     * settle words reach this rank's last low-latency dispatch generation and, per slot, its last
     * combine call (-1: none), or the peer closed its buffer or died, or a group was aborted, or
     * either rank failed a call after posting it.
     * Peers map a region when they first read it, and a region's file goes when its owner closes,
     * so without this a peer receiving late would find it gone. Bounded by the buffer's timeout,
     * after which the close goes on (a peer still reading then fails, naming this rank). In one
     * JVM a region lives until its last reader lets go, and this returns at once.
     *
     * @param dispatchGeneration this rank's last low-latency dispatch generation, or -1
     * @param combineSeq         per slot, this rank's last low-latency combine call, or -1
     */
    public void lingerForReaders(long dispatchGeneration, long[] combineSeq) {
        if (!segments.crossProcess()) {
            return;
        }
        long deadline = System.nanoTime() + waits.timeoutNanos();
        for (int p = 0; p < ranks; p++) {
            if (p == rank) {
                continue;
            }
            ControlBlock b = blocks[p];
            for (int attempt = 0;; attempt++) {
                long ticket = bell.ticket();
                boolean read = b.llSettled() >= dispatchGeneration && b.llcSettled(0) >= combineSeq[0]
                        && b.llcSettled(1) >= combineSeq[1];
                // A failed call on either side (a mismatch, say) puts the calls out of step: nothing more will be read.
                boolean broken = self.failed() > 0 || b.failed() > 0 || waits.anyAborted();
                if (read || broken || b.state() == ControlBlock.STATE_CLOSED || !waits.isAlive(p)) {
                    break;
                }
                long now = System.nanoTime();
                if (now - deadline >= 0 || !bell.sleep(ticket, deadline - now, attempt)) {
                    return;
                }
            }
        }
    }

    /** Call {@code seq} of this rank, posted, failed here: peers waiting for it to read theirs stop waiting. */
    public void markFailed(long seq, Throwable why) {
        self.markFailed(seq, String.valueOf(why));
        bell.ring();
    }

    /** This rank's group was aborted: peers (in other processes too) fail their waits at once. */
    public void markAborted(String why) {
        self.markAborted(why);
        bell.ring();
    }

    /** The buffer of this rank was closed: peers waiting for it fail at once. */
    public void markClosed() {
        self.setState(ControlBlock.STATE_CLOSED);
        bell.ring();
    }

    /** Wakes every waiter of this JVM to look again (abort, close). */
    public void wake() {
        bell.ring();
    }

    /**
     * Marks the buffer closed and releases this rank's segments and its mappings of its peers';
     * across processes, also removes what peers that died left (they cannot). Twice is harmless.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        markClosed();
        regions.close();
        for (int p = 0; p < ranks; p++) {
            if (p != rank && segments.crossProcess() && !waits.isAlive(p)) {
                segments.removeLeftovers(stems[p]);
            }
            segments.release(Fabric.controlName(stems[p]), p == rank);
        }
    }

    @Override
    public String toString() {
        return "Exchange[rank " + rank + " of " + ranks + ", posted #" + self.posted() + "]";
    }
}
