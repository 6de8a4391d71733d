package ep4j.cuda.control;

import ep4j.BufferSpec;
import ep4j.Config;
import ep4j.cuda.tune.AutoConfig;
import ep4j.EpEvent;
import ep4j.PeerException;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.CudaEvent;
import ep4j.cuda.driver.CudaFunction;
import ep4j.cuda.driver.CudaStream;
import ep4j.cuda.driver.DeviceMemory;
import ep4j.cuda.driver.KernelArgs;
import ep4j.cuda.kernel.CommonParams;
import ep4j.cuda.kernel.ControlLayout;
import ep4j.cuda.kernel.Kernels;
import ep4j.cuda.kernel.Params;
import ep4j.cuda.memory.DeviceBlock;
import ep4j.cuda.memory.HeapLayout;
import ep4j.cuda.memory.StreamPool;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What the paths of one rank's buffer share (the normal path, the low-latency path): the rank's
 * GPU context, its communication stream, the kernels, the call records, the symmetric heaps of
 * every rank and this rank's local memory, the stream-ordered pool for per-call outputs, and
 * whether the buffer can still be used. Calls are made from the rank's thread.
 *
 * <p>Nothing here makes a driver call that waits for the device once the buffer is built:
 * per-call memory comes from {@link StreamPool} (stream-ordered), completion is a stamp in
 * host-mapped memory, kernels were loaded at setup (DESIGN 3, "no device-wide waits").
 */
public final class RankRuntime implements AutoCloseable {
    private static final int EVENT_RING = 256;
    /** {@code -Dep4j.cuda.overlapLaunches=false} launches every kernel plainly (to compare, or as a way out). */
    private static final boolean OVERLAP_LAUNCHES =
            !"false".equalsIgnoreCase(System.getProperty("ep4j.cuda.overlapLaunches"));

    public final int rank;
    public final int ranks;
    public final BufferSpec spec;
    public final HeapLayout layout;
    public final CudaContext context;
    public final Kernels kernels;
    public final CudaStream stream;
    public final CallRecords records;
    public final StreamPool pool;
    /** Every rank's heap base in this process, by rank. */
    public final long[] heaps;
    /** This rank's local device memory (HeapLayout's local parts). */
    public final DeviceMemory local;
    /** SMs this rank may use (the GPU's, divided among the ranks that share it). */
    public final int sms;
    public final long timeoutNanos;
    private final CommonParams.Values common;
    private final KernelArgs args = new KernelArgs();
    private final CudaEvent[] events = new CudaEvent[EVENT_RING];
    private int nextEvent;
    private boolean capturing;
    private volatile String broken;
    private volatile boolean closed;

    /**
     * @param heaps every rank's symmetric heap base (already mapped and zeroed)
     * @param local this rank's local memory; the runtime owns it from here on
     * @param peers the peers' processes, when the group spans processes ({@link PeerWatch#NONE} otherwise)
     */
    public RankRuntime(int rank, int ranks, BufferSpec spec, HeapLayout layout, CudaContext context, Kernels kernels,
            long[] heaps, DeviceMemory local, int sms, PeerWatch peers) {
        this.rank = rank;
        this.ranks = ranks;
        this.spec = spec;
        this.layout = layout;
        this.context = context;
        this.kernels = kernels;
        this.heaps = heaps.clone();
        this.local = local;
        this.sms = sms;
        this.timeoutNanos = spec.timeout().toNanos();
        context.makeCurrent();
        CudaStream s = null;
        CallRecords r = null;
        StreamPool p = null;
        try {
            s = CudaStream.create(context, true);
            r = new CallRecords(context, rank, timeoutNanos, peers, this::abort);
            p = StreamPool.open(context);
            for (int i = 0; i < EVENT_RING; i++) {
                events[i] = CudaEvent.create(context, false);
            }
        } catch (RuntimeException e) {
            for (CudaEvent ev : events) {
                if (ev != null) {
                    ev.close();
                }
            }
            if (r != null) {
                r.close();
            }
            if (s != null) {
                s.close();
            }
            args.close();
            throw e;
        }
        this.stream = s;
        this.records = r;
        this.pool = p;
        this.common = new CommonParams.Values(this.heaps, records.devicePointer(), layout.heapBytes, timeoutNanos, rank,
                ranks);
    }

    /** The common fields of every kernel's parameters. */
    public Params common(Params p, CommonParams fields) {
        return fields.fill(p.clear(), common);
    }

    /**
     * Blocks for a normal kernel: the config's SM count, or one chosen from the bytes to move
     * ({@link AutoConfig}), within the SMs this rank may use (ranks sharing a GPU split its SMs,
     * so all their kernels fit at once).
     */
    public int blocks(Config config, long bytes, boolean combine) {
        int n = config.isAuto() ? AutoConfig.sms(bytes, ranks, combine) : config.numSms();
        return Math.max(1, Math.min(n, sms));
    }

    /**
     * {@code bytes} of device memory for a call's outputs: stream-ordered on the rank's stream, or
     * a plain allocation while a graph is captured (a stream-ordered one would become a node of
     * the graph, allocated again at every replay).
     */
    public DeviceBlock allocate(long bytes) {
        return capturing ? DeviceBlock.of(DeviceMemory.allocate(context, bytes)) : pool.allocate(bytes, stream);
    }

    /** Whether a graph is being captured on the rank's stream (calls must not wait for the device). */
    public boolean capturing() {
        return capturing;
    }

    /** Marks the start or end of a capture. */
    public void capturing(boolean on) {
        capturing = on;
        pool.reuse(!on);
    }

    /** This rank's heap base. */
    public long heap() {
        return heaps[rank];
    }

    /** Launches {@code f} on the rank's stream with one parameter struct. */
    public void launch(CudaFunction f, int grid, int threads, int sharedBytes, Params p) {
        launch(f, grid, threads, sharedBytes, p, false);
    }

    /**
     * Launches {@code f} like {@link #launch}, allowed to begin while the kernel ahead of it on the
     * stream ends ({@link CudaFunction#launchOverlapped}); {@code f} waits for that kernel
     * ({@code griddepcontrol.wait}) before it reads or writes anything.
     */
    public void launchOverlapped(CudaFunction f, int grid, int threads, int sharedBytes, Params p) {
        launch(f, grid, threads, sharedBytes, p, OVERLAP_LAUNCHES);
    }

    private void launch(CudaFunction f, int grid, int threads, int sharedBytes, Params p, boolean overlapped) {
        try {
            KernelArgs a = args.reset().struct(p.segment(), p.struct().alignment());
            if (overlapped) {
                f.launchOverlapped(grid, threads, sharedBytes, stream, a);
            } else {
                f.launch(grid, 1, threads, sharedBytes, stream, a);
            }
        } catch (RuntimeException e) {
            broken = f.name() + ": launch failed: " + e.getMessage();
            throw e;
        }
    }

    /** Refuses work on a closed or broken buffer. */
    public void ensureUsable() {
        if (closed) {
            throw new IllegalStateException("EpBuffer of rank " + rank + " was closed");
        }
        String b = broken;
        if (b != null) {
            throw new IllegalStateException("EpBuffer of rank " + rank + " is unusable after an earlier failure: " + b);
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Waits for {@code op} (synchronous calls) or returns an event for it (asynchronous ones).
     * A timeout leaves the peers' counters in an unknown state: the buffer refuses further work.
     */
    public EpEvent finish(CallRecords.Op op, boolean async) {
        if (!async && !capturing) {
            await(op);
            return EpEvent.completed();
        }
        CudaEvent e = events[nextEvent++ % EVENT_RING];
        e.record(stream);
        return new OpEvent(e, op, this);
    }

    /** Waits for {@code op} and raises what it recorded, marking the buffer broken on a timeout or a dead peer. */
    public void await(CallRecords.Op op) {
        try {
            op.await();
        } catch (PeerException e) {
            broken = e.getMessage();
            throw e;
        }
    }

    /**
     * Waits for the count exchange of dispatch op {@code op} (slot {@code slot}) and returns its
     * summary; a timeout marks the buffer broken, as {@link #await} does.
     */
    public MemorySegment summary(CallRecords.Op op, int slot) {
        try {
            return op.awaitSummary(slot);
        } catch (PeerException e) {
            broken = e.getMessage();
            throw e;
        }
    }

    /** Makes the stream wait for {@code previous} (an event of this backend), or the host for any other. */
    public void awaitPrevious(EpEvent previous) {
        if (previous == null) {
            return;
        }
        if (previous instanceof OpEvent oe) {
            stream.waitEvent(oe.cudaEvent());
        } else {
            previous.await();
        }
    }

    /**
     * Ends every wait of the group's kernels at once, for {@link ep4j.EpGroup#abort}: every signal
     * word of every rank's control block (all heaps are mapped here, also those of ranks in other
     * processes) gets the abort word (control.cuh: kAbortWord), which a waiting kernel reads as
     * "aborted" and ends its op with. Small synchronous copies: they do not wait for the kernels
     * (measured on H200). The buffer stays unusable.
     */
    public void abort(String why) {
        broken = "the group was aborted: " + why;
        long bytes = ControlLayout.COMBINE_X_OFFSET.offset(); // the signal lines come first
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment words = arena.allocate(bytes, 8);
            for (long at = 0; at < bytes; at += 8) {
                words.set(ValueLayout.JAVA_LONG, at, Long.MAX_VALUE);
            }
            for (long base : heaps) {
                DeviceMemory.copyFromHost(context, words, base);
            }
        }
    }

    /** Marks the buffer unusable. */
    public void markBroken(String why) {
        broken = why;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        context.makeCurrent();
        try {
            stream.synchronize();
        } finally {
            for (CudaEvent e : events) {
                e.close();
            }
            pool.close();
            stream.close();
            records.close();
            local.close();
            args.close();
        }
    }
}
