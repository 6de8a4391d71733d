package ep4j.cpu.control;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * The words of one rank's control segment, the CPU counterpart of the device's {@code Control}
 * block (ep4j-cuda control.cuh): every rank maps every peer's, and no Java object crosses. Each
 * word has one writer; a writer stores with release semantics and a reader loads with acquire, so
 * whatever was written before a word (a call record, a payload) is visible to whoever sees the
 * word's new value. Counters only grow.
 *
 * <pre>
 *   offset  word            writer  meaning
 *   0       magic           owner   {@link #MAGIC} once the header is whole
 *   8/16    rank / ranks    owner
 *   24/32   pid / start     owner   the owning process (see ep4j.process.Liveness)
 *   40      state           owner   0 setting up, 1 open, 2 closed
 *   48      aborted         owner   1 once its group was aborted (the note says why)
 *   56      failed          owner   the latest call of the owner that failed after it was posted
 *   64      posted          owner   the owner's latest collective call number
 *   72      llSettled       owner   low-latency dispatch generations received or stale there
 *   80/88   llcSettled[2]   owner   per slot, the latest low-latency combine received or dropped
 *   96+16k  region k        owner   generation and size of the owner's data region k
 *   256     note            owner   length, then UTF-8 text: why it aborted or failed
 *   768     ring            owner   {@link #RING} call records: call number, signature
 *   17152   acks[R]         rank j  acks[j]: the owner's latest call that rank j finished reading
 * </pre>
 */
final class ControlBlock {
    /** "EP4JCTL1". */
    static final long MAGIC = 0x4550344A43544C31L;
    /** Call records kept; a peer can run ahead by a few calls at most (a call returns once read). */
    static final int RING = 64;
    static final int STATE_OPEN = 1;
    static final int STATE_CLOSED = 2;
    /** Data regions per rank (see Region). */
    static final int REGIONS = 4;

    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final long O_MAGIC = 0;
    private static final long O_RANK = 8;
    private static final long O_RANKS = 16;
    private static final long O_PID = 24;
    private static final long O_START = 32;
    private static final long O_STATE = 40;
    private static final long O_ABORTED = 48;
    private static final long O_FAILED = 56;
    private static final long O_POSTED = 64;
    private static final long O_LL_SETTLED = 72;
    private static final long O_LLC_SETTLED = 80;
    private static final long O_REGIONS = 96;
    private static final long O_NOTE = 256;
    private static final int NOTE_BYTES = 504;
    private static final long O_RING = 768;
    private static final long RECORD = 256;
    private static final int SIGNATURE_BYTES = (int) RECORD - 16;
    private static final long O_ACKS = O_RING + RING * RECORD;

    private final MemorySegment seg;

    ControlBlock(MemorySegment seg) {
        this.seg = seg;
    }

    /** The size of a control segment for {@code ranks} ranks, in whole pages. */
    static long bytes(int ranks) {
        return (O_ACKS + 8L * ranks + 4095) / 4096 * 4096;
    }

    private long get(long offset) {
        return (long) LONG.getAcquire(seg, offset);
    }

    private void set(long offset, long value) {
        LONG.setRelease(seg, offset, value);
    }

    /** Writes the header of a new (zeroed) segment; the magic goes last. */
    void init(int rank, int ranks, long pid, long start) {
        set(O_RANK, rank);
        set(O_RANKS, ranks);
        set(O_PID, pid);
        set(O_START, start);
        set(O_LL_SETTLED, -2);
        set(O_LLC_SETTLED, -1);
        set(O_LLC_SETTLED + 8, -1);
        set(O_MAGIC, MAGIC);
    }

    /** Null when this is the header of rank {@code rank} of {@code ranks}, else what is wrong. */
    String headerProblem(int rank, int ranks) {
        if (get(O_MAGIC) != MAGIC) {
            return "no ep4j control block (magic 0x" + Long.toHexString(get(O_MAGIC)) + ")";
        }
        if (get(O_RANK) != rank || get(O_RANKS) != ranks) {
            return "the control block of rank " + get(O_RANK) + " of " + get(O_RANKS) + ", not rank " + rank + " of "
                    + ranks;
        }
        return null;
    }

    long pid() {
        return get(O_PID);
    }

    long start() {
        return get(O_START);
    }

    int state() {
        return (int) get(O_STATE);
    }

    void setState(int state) {
        set(O_STATE, state);
    }

    boolean aborted() {
        return get(O_ABORTED) != 0;
    }

    /** Marks the owner aborted, saying why (the first reason stays). */
    void markAborted(String why) {
        if (!aborted()) {
            setNote(why);
            set(O_ABORTED, 1);
        }
    }

    long failed() {
        return get(O_FAILED);
    }

    /** The owner's call {@code seq}, posted, failed: peers waiting on it stop waiting. */
    void markFailed(long seq, String why) {
        setNote(why);
        set(O_FAILED, Math.max(seq, get(O_FAILED)));
    }

    long posted() {
        return get(O_POSTED);
    }

    long llSettled() {
        return get(O_LL_SETTLED);
    }

    void setLlSettled(long watermark) {
        set(O_LL_SETTLED, watermark);
    }

    long llcSettled(int slot) {
        return get(O_LLC_SETTLED + 8L * slot);
    }

    void setLlcSettled(int slot, long seq) {
        set(O_LLC_SETTLED + 8L * slot, seq);
    }

    long regionGeneration(int kind) {
        return get(O_REGIONS + 16L * kind);
    }

    long regionSize(int kind) {
        return get(O_REGIONS + 16L * kind + 8);
    }

    /** Publishes region {@code kind} at a new generation (size first, generation last). */
    void setRegion(int kind, long generation, long size) {
        set(O_REGIONS + 16L * kind + 8, size);
        set(O_REGIONS + 16L * kind, generation);
    }

    private void setNote(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(b.length, NOTE_BYTES);
        MemorySegment.copy(b, 0, seg, ValueLayout.JAVA_BYTE, O_NOTE + 8, n);
        set(O_NOTE, n);
    }

    /** Why the owner aborted or failed, as it wrote it. */
    String note() {
        int n = (int) Math.min(Math.max(get(O_NOTE), 0), NOTE_BYTES);
        byte[] b = new byte[n];
        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, O_NOTE + 8, b, 0, n);
        return new String(b, StandardCharsets.UTF_8);
    }

    /**
     * Posts call {@code seq}: the record, then the counter. The record is a seqlock: its number is
     * voided before its text is rewritten and set after, so a reader never takes a half-written
     * record for a whole one.
     */
    void post(long seq, String signature) {
        long rec = O_RING + (seq % RING) * RECORD;
        byte[] b = signatureBytes(signature);
        set(rec, -1);
        VarHandle.storeStoreFence();
        MemorySegment.copy(b, 0, seg, ValueLayout.JAVA_BYTE, rec + 16, b.length);
        set(rec + 8, b.length);
        set(rec, seq);
        set(O_POSTED, seq);
    }

    /** The signature of posted call {@code seq}, or null when its record was reused (the owner ran ahead). */
    String signature(long seq) {
        long rec = O_RING + (seq % RING) * RECORD;
        if (get(rec) != seq) {
            return null;
        }
        int n = (int) Math.min(Math.max(get(rec + 8), 0), SIGNATURE_BYTES);
        byte[] b = new byte[n];
        MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, rec + 16, b, 0, n);
        VarHandle.loadLoadFence();
        return get(rec) == seq ? new String(b, StandardCharsets.UTF_8) : null;
    }

    /** How a signature is stored: whole when it fits, else cut with a hash of the whole appended. */
    static byte[] signatureBytes(String signature) {
        byte[] b = signature.getBytes(StandardCharsets.UTF_8);
        if (b.length <= SIGNATURE_BYTES) {
            return b;
        }
        byte[] tail = ("...#" + Integer.toHexString(signature.hashCode())).getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[SIGNATURE_BYTES];
        System.arraycopy(b, 0, out, 0, SIGNATURE_BYTES - tail.length);
        System.arraycopy(tail, 0, out, SIGNATURE_BYTES - tail.length, tail.length);
        return out;
    }

    long ack(int reader) {
        return get(O_ACKS + 8L * reader);
    }

    /** Rank {@code reader} (the only writer of this word) finished reading the owner's call {@code seq}. */
    void setAck(int reader, long seq) {
        long off = O_ACKS + 8L * reader;
        if (seq > get(off)) {
            set(off, seq);
        }
    }
}
