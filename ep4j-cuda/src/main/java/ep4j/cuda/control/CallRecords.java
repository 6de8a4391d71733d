package ep4j.cuda.control;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.PeerDiedException;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.PinnedHostMemory;
import ep4j.cuda.kernel.CallRecordLayout;
import ep4j.cuda.kernel.HostSummaryLayout;
import ep4j.cuda.kernel.KernelConstants;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One rank's view of its operations on the device (control.cuh): the host-mapped ring of call
 * records the kernels write, the count-exchange summaries, and the host's mirror of the
 * device's op counter. Operation k of the rank uses record {@code k % kCallRecords}; the kernels
 * count ops on the device and the host counts the same launches here, so both name the same
 * record without passing a per-call number (which a CUDA graph could not update).
 *
 * <p>Completion is a stamp the op's last kernel writes last of all: the host waits for it by
 * reading host memory, never by a driver call in a loop. Used by the rank's thread (and the
 * threads that await its events); the methods are synchronized where they touch shared state.
 *
 * <p>In a group spread over processes, a wait that lasts asks the {@link PeerWatch} now and then
 * whether a peer's process died. When one did, it ends the device waits ({@code abortWaits}, as
 * {@code EpGroup.abort} does), lets the op's kernels finish, and raises a
 * {@link PeerDiedException} naming the op, this rank and the dead rank; a failure the kernels
 * record (aborted, timed out) while a peer's process is gone is raised as that too.
 */
public final class CallRecords implements AutoCloseable {
    private static final long RING = KernelConstants.CALL_RECORDS;
    /** Records are an array on both sides: the struct is exactly this long (contract.cuh asserts it). */
    private static final long STRIDE = CallRecordLayout.STRUCT.size();
    private static final long SUMMARY = (HostSummaryLayout.STRUCT.size() + 127) / 128 * 128;

    private final PinnedHostMemory memory;
    private final int rank;
    private final long timeoutNanos;
    private final PeerWatch watch;
    private final Consumer<String> abortWaits;
    private final Op[] ring = new Op[(int) RING];
    private long next;

    /** One operation: its number, its record, and what the host knows of it. */
    public final class Op {
        private final long index;
        private final String name;
        private final int topk;
        private boolean checked;

        private Op(long index, String name, int topk) {
            this.index = index;
            this.name = name;
            this.topk = topk;
        }

        /** The op's number on the device (Control::ops when it began). */
        public long index() {
            return index;
        }

        public String name() {
            return name;
        }

        private long at() {
            return (index % RING) * STRIDE;
        }

        /** Whether the op's last kernel has finished (its stamp is there). */
        public boolean isComplete() {
            return memory.getLongVolatile(at() + CallRecordLayout.STAMP.offset()) == index + 1;
        }

        /**
         * Waits until the op completed, then raises what its kernels recorded. The kernels end by
         * themselves (every wait for a peer is bounded on the device), so the deadline here is
         * only a backstop against a stream that never reaches them.
         */
        public void await() {
            awaitStamp(at() + CallRecordLayout.STAMP.offset(), "completion");
            raise();
        }

        /** Raises what the op's kernels recorded, once; a no-op when nothing was. */
        public void raise() {
            synchronized (CallRecords.this) {
                if (checked) {
                    return;
                }
                checked = true;
            }
            MemorySegment r = memory.segment().asSlice(at(), STRIDE);
            if (memory.getIntVolatile(at() + CallRecordLayout.CODE.offset()) != 0) {
                RuntimeException failure = DeviceFailure.of(r, name, rank, topk, timeoutNanos / 1_000_000);
                int dead = watch.active() ? watch.deadPeerNow() : -1;
                if (dead >= 0) {
                    throw new PeerDiedException(name, rank, dead, watch.pid(dead), failure.getMessage());
                }
                throw failure;
            }
        }

        /** Waits for the count exchange of this dispatch op to publish its summary in slot {@code slot}. */
        public MemorySegment awaitSummary(int slot) {
            long base = summaryOffset(slot);
            awaitStamp(base + HostSummaryLayout.STAMP.offset(), "count exchange");
            if (memory.getIntVolatile(at() + CallRecordLayout.CODE.offset()) != 0) {
                raise();
            }
            return memory.segment().asSlice(base, HostSummaryLayout.STRUCT.size());
        }

        private void awaitStamp(long offset, String what) {
            long expected = index + 1;
            if (memory.getLongVolatile(offset) == expected) {
                return;
            }
            long start = System.nanoTime();
            long deadline = start + 2 * timeoutNanos + 1_000_000_000L;
            while (memory.getLongVolatile(offset) != expected) {
                long now = System.nanoTime();
                if (now - deadline > 0) {
                    throw new EpTimeoutException(name, rank, -1, "the GPU did not report the " + what + " of op #"
                            + index + " (is the stream blocked behind other work?)", timeoutNanos / 1_000_000);
                }
                int dead = watch.deadPeer(start, now);
                if (dead >= 0) {
                    throw peerDied(dead, what, (now - start) / 1_000_000);
                }
                Thread.onSpinWait();
            }
        }

        /**
         * Peer {@code dead}'s process is gone while this op waited: ends the device waits, gives
         * the op's kernels a moment to see that and complete (so the stream is idle for close),
         * and returns the exception to raise.
         */
        private PeerDiedException peerDied(int dead, String what, long waitedMillis) {
            String waiting = "this rank waited " + waitedMillis + " ms for the " + what + " of op #" + index;
            abortWaits.accept(name + " on rank " + rank + ": rank " + dead + " (pid " + watch.pid(dead) + ") died");
            long deadline = System.nanoTime() + Math.min(timeoutNanos, 5_000_000_000L);
            while (!isComplete() && System.nanoTime() - deadline < 0) {
                Thread.onSpinWait();
            }
            synchronized (CallRecords.this) {
                checked = true; // the kernels' own record (aborted) says less than this
            }
            return new PeerDiedException(name, rank, dead, watch.pid(dead), waiting);
        }
    }

    /**
     * Records for {@code rank}, whose waits for peers time out after {@code timeoutNanos}.
     *
     * @param watch      the peers' processes ({@link PeerWatch#NONE} in a one-process group)
     * @param abortWaits ends every device wait of the group, given why (after a peer died)
     */
    public CallRecords(CudaContext context, int rank, long timeoutNanos, PeerWatch watch,
            Consumer<String> abortWaits) {
        this.memory = PinnedHostMemory.allocate(context, RING * STRIDE + 2 * SUMMARY); // zeroed
        this.rank = rank;
        this.timeoutNanos = timeoutNanos;
        this.watch = watch;
        this.abortWaits = abortWaits;
    }

    /**
     * The record of the next op the rank launches. The record it reuses must belong to an op
     * that completed (ops in flight never wrap the ring) and whose error, if any, was raised:
     * an error nobody awaited is raised here rather than lost.
     */
    public synchronized Op begin(String name, int topk) {
        Op old = ring[(int) (next % RING)];
        if (old != null) {
            if (!old.isComplete()) {
                throw new EpException(name + " on rank " + rank + ": " + RING
                        + " operations are in flight; await some (their events) before issuing more");
            }
            if (!old.checked) {
                old.raise();
            }
        }
        Op op = new Op(next++, name, topk);
        ring[(int) (op.index % RING)] = op;
        memory.setIntVolatile(op.at() + CallRecordLayout.CODE.offset(), 0);
        return op;
    }

    /** What a capture recorded: the ops its calls began, to begin again at every replay. */
    public record Captured(List<String> names, List<Integer> topks) {
        public int ops() {
            return names.size();
        }
    }

    private long captureStart = -1;

    /** A graph capture starts: ops begun until {@link #endCapture()} will not run now. */
    public synchronized void startCapture() {
        captureStart = next;
    }

    /**
     * The capture ended: its ops never ran, so the mirror goes back to where it was (the device
     * counted none of them) and the ops are returned for the replays to begin.
     */
    public synchronized Captured endCapture() {
        List<String> names = new ArrayList<>();
        List<Integer> topks = new ArrayList<>();
        for (long i = captureStart; i < next; i++) {
            Op op = ring[(int) (i % RING)];
            names.add(op.name);
            topks.add(op.topk);
            ring[(int) (i % RING)] = null;
        }
        next = captureStart;
        captureStart = -1;
        return new Captured(List.copyOf(names), List.copyOf(topks));
    }

    /** The number the next op will get: the host's mirror of Control::ops. */
    public synchronized long nextIndex() {
        return next;
    }

    /** The ring's device address, for the kernels' {@code records} field. */
    public long devicePointer() {
        return memory.devicePointer();
    }

    private static long summaryOffset(int slot) {
        return RING * STRIDE + slot * SUMMARY;
    }

    /** The device address of dispatch slot {@code slot}'s summary. */
    public long summaryPointer(int slot) {
        return memory.devicePointer() + summaryOffset(slot);
    }

    /** Reads {@code count} ints of a summary's tokens-per-expert array. */
    public static int[] tokensPerExpert(MemorySegment summary, int count) {
        int[] out = new int[count];
        MemorySegment.copy(summary, ValueLayout.JAVA_INT, HostSummaryLayout.TOKENS_PER_EXPERT.offset(0), out, 0, count);
        return out;
    }

    @Override
    public void close() {
        memory.close();
    }
}
