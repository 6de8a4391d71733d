package ep4j.cuda;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.InvalidArgumentException;
import ep4j.cuda.driver.CudaContext;
import ep4j.cuda.driver.PinnedHostMemory;
import ep4j.cuda.kernel.ContractEnum;
import ep4j.cuda.kernel.DeviceError;
import ep4j.cuda.kernel.DeviceOperation;
import ep4j.cuda.kernel.ErrorRecordLayout;
import ep4j.cuda.kernel.WaitKind;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The error records kernels write (contract.cuh: ErrorRecord), in host-mapped memory: one per
 * call, from a ring, so that an asynchronous call's error waits in its own record until its
 * event is awaited and no later call can read or clear it. The host turns a record into the
 * exception it would have thrown for the same input.
 */
final class DeviceErrors implements AutoCloseable {
    /** Records in the ring: calls that may be in flight, or done but not yet checked, at once. */
    static final int RING = 256;
    private static final long STRIDE = 64;

    private final PinnedHostMemory records;
    private final int rank;
    private final Call[] calls = new Call[RING];
    private long issued;

    /** One call's record. */
    final class Call {
        private final int index;
        private final String operation;
        private final long number;
        private boolean checked;

        private Call(int index, String operation, long number) {
            this.index = index;
            this.operation = operation;
            this.number = number;
        }

        /** The record's device address, for the kernels' {@code error} field. */
        long devicePointer() {
            return records.devicePointer() + index * STRIDE;
        }

        String operation() {
            return operation;
        }
    }

    DeviceErrors(CudaContext context, int rank) {
        this.records = PinnedHostMemory.allocate(context, RING * STRIDE); // zeroed
        this.rank = rank;
    }

    /**
     * A clean record for a new call. When the record it reuses still holds an error that nobody
     * checked (an asynchronous call whose event was never awaited), that error is raised here
     * rather than lost.
     */
    synchronized Call open(String operation) {
        int index = (int) (issued % RING);
        Call old = calls[index];
        Call call = new Call(index, operation, ++issued);
        calls[index] = call;
        if (old != null && !old.checked) {
            MemorySegment r = slice(index);
            if (r.get(ValueLayout.JAVA_INT, ErrorRecordLayout.CODE.offset()) != DeviceError.OK.value()) {
                try {
                    throwFrom(r, old.operation + " (call #" + old.number + ", never awaited)", 0, 0);
                } finally {
                    r.fill((byte) 0);
                }
            }
        }
        slice(index).fill((byte) 0);
        return call;
    }

    private MemorySegment slice(int index) {
        return records.segment().asSlice(index * STRIDE, STRIDE);
    }

    /** Throws what the kernels flagged for {@code call}; afterwards the record counts as checked. */
    synchronized void raise(Call call, long timeoutMillis, int topk) {
        if (calls[call.index] != call) {
            return; // reused: open() raised what it held
        }
        call.checked = true;
        MemorySegment r = slice(call.index);
        if (records.getIntVolatile(call.index * STRIDE + ErrorRecordLayout.CODE.offset()) == DeviceError.OK.value()) {
            return;
        }
        try {
            throwFrom(r, call.operation, timeoutMillis, topk);
        } finally {
            r.fill((byte) 0);
        }
    }

    private void throwFrom(MemorySegment r, String operation, long timeoutMillis, int topk) {
        int code = r.get(ValueLayout.JAVA_INT, ErrorRecordLayout.CODE.offset());
        int op = r.get(ValueLayout.JAVA_INT, ErrorRecordLayout.OPERATION.offset());
        int peer = r.get(ValueLayout.JAVA_INT, ErrorRecordLayout.PEER.offset());
        long seen = r.get(ValueLayout.JAVA_LONG, ErrorRecordLayout.SEEN.offset());
        long expected = r.get(ValueLayout.JAVA_LONG, ErrorRecordLayout.EXPECTED.offset());
        long detail = r.get(ValueLayout.JAVA_LONG, ErrorRecordLayout.DETAIL.offset());
        DeviceError error = ContractEnum.of(DeviceError.class, code);
        DeviceOperation where = ContractEnum.of(DeviceOperation.class, op);
        String slot = topk > 0 ? "topkIdx[" + detail / topk + "][" + detail % topk + "]" : "topkIdx (flat index " + detail + ")";
        switch (error == null ? DeviceError.OK : error) {
            case TIMEOUT -> {
                WaitKind wait = ContractEnum.of(WaitKind.class, (int) detail);
                throw new EpTimeoutException(operation, rank, peer, (where == null ? "" : where.description() + " kernel ")
                        + "waited for " + (wait == null ? "signal kind " + detail : wait.description())
                        + ": saw #" + seen + ", expected #" + expected, timeoutMillis);
            }
            case EXPERT_OUT_OF_RANGE -> throw new InvalidArgumentException(slot, seen, "-1 or an expert in [0, " + expected + ")");
            case WORST_TOKENS_OVERFLOW -> throw new InvalidArgumentException("numWorstTokens", expected,
                    "at least " + seen + " rows (received on rank " + peer + ")");
            case LL_TOPK_MISMATCH -> throw new InvalidArgumentException(slot, seen,
                    expected + ", the expert this slot had in the low-latency dispatch of the handle");
            default -> throw new EpException(operation + " on rank " + rank + ": unknown device error code " + code
                    + (where == null ? "" : " from the " + where.description() + " kernel"));
        }
    }

    @Override
    public void close() {
        records.close();
    }
}
