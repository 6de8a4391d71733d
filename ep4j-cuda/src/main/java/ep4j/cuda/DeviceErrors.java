package ep4j.cuda;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.InvalidArgumentException;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.PinnedHostMemory;
import java.lang.foreign.ValueLayout;

/**
 * The error record kernels write (common.cuh: ErrorRecord) in host-mapped memory, read after a
 * call completes and turned into the exception the host would have thrown for the same input.
 */
final class DeviceErrors implements AutoCloseable {
    private static final int OK = 0;
    private static final int TIMEOUT = 1;
    private static final int EXPERT_OUT_OF_RANGE = 2;
    private static final int WORST_TOKENS_OVERFLOW = 3;
    private static final int COMBINE_TOPK_MISMATCH = 4;
    private static final String[] SIGNALS = {"notify", "dispatch arrival", "combine ready", "combine done"};

    private final PinnedHostMemory record;
    private final int rank;

    DeviceErrors(CudaContext context, int rank) {
        this.record = PinnedHostMemory.allocate(context, 64);
        this.record.segment().fill((byte) 0);
        this.rank = rank;
    }

    long devicePointer() {
        return record.devicePointer();
    }

    /** Throws what the kernels flagged since the last check, and clears the record. */
    void raise(String operation, long timeoutMillis, int topk) {
        var s = record.segment();
        int code = record.getIntVolatile(0);
        if (code == OK) {
            return;
        }
        int peer = s.get(ValueLayout.JAVA_INT, 8);
        long seen = s.get(ValueLayout.JAVA_LONG, 16);
        long expected = s.get(ValueLayout.JAVA_LONG, 24);
        long detail = s.get(ValueLayout.JAVA_LONG, 32);
        s.fill((byte) 0);
        switch (code) {
            case TIMEOUT -> throw new EpTimeoutException(operation, rank, peer,
                    "GPU signal '" + SIGNALS[(int) Math.min(detail, SIGNALS.length - 1)] + "' at call #" + seen
                            + ", expected #" + expected, timeoutMillis);
            case EXPERT_OUT_OF_RANGE -> throw new InvalidArgumentException(
                    "topkIdx[" + (topk > 0 ? detail / topk : detail) + "][" + (topk > 0 ? detail % topk : 0) + "]", seen,
                    "-1 or an expert in [0, " + expected + ")");
            case WORST_TOKENS_OVERFLOW -> throw new InvalidArgumentException("numWorstTokens", expected,
                    "at least " + seen + " rows (received on rank " + peer + ")");
            case COMBINE_TOPK_MISMATCH -> throw new InvalidArgumentException(
                    "topkIdx[" + (topk > 0 ? detail / topk : detail) + "][" + (topk > 0 ? detail % topk : 0) + "]", seen,
                    expected + ", the expert this slot had in the low-latency dispatch of the handle");
            default -> throw new EpException(operation + " on rank " + rank + ": device error code " + code);
        }
    }


    @Override
    public void close() {
        record.close();
    }
}
