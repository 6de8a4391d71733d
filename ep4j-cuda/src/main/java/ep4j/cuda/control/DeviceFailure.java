package ep4j.cuda.control;

import ep4j.EpException;
import ep4j.EpTimeoutException;
import ep4j.InvalidArgumentException;
import ep4j.cuda.kernel.CallRecordLayout;
import ep4j.cuda.kernel.ContractEnum;
import ep4j.cuda.kernel.DeviceError;
import ep4j.cuda.kernel.DeviceOperation;
import ep4j.cuda.kernel.WaitKind;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Turns a call record the kernels filled into the exception the host would have thrown: an
 * {@link InvalidArgumentException} for content the GPU checked (an expert index out of range),
 * an {@link EpTimeoutException} naming the peer for a wait that ran out, an {@link EpException}
 * naming the failed rank when a peer's poisoned signal ended the op.
 */
final class DeviceFailure {
    private DeviceFailure() {
    }

    /** {@code topk}: K of the call, to name a top-k slot as [token][k] (0 when unknown). */
    static RuntimeException of(MemorySegment r, String operation, int rank, int topk, long timeoutMillis) {
        int code = r.get(ValueLayout.JAVA_INT, CallRecordLayout.CODE.offset());
        int op = r.get(ValueLayout.JAVA_INT, CallRecordLayout.OPERATION.offset());
        int peer = r.get(ValueLayout.JAVA_INT, CallRecordLayout.PEER.offset());
        long seen = r.get(ValueLayout.JAVA_LONG, CallRecordLayout.SEEN.offset());
        long expected = r.get(ValueLayout.JAVA_LONG, CallRecordLayout.EXPECTED.offset());
        long detail = r.get(ValueLayout.JAVA_LONG, CallRecordLayout.DETAIL.offset());
        DeviceError error = ContractEnum.of(DeviceError.class, code);
        DeviceOperation where = ContractEnum.of(DeviceOperation.class, op);
        String kernel = where == null ? "" : "the " + where.description() + " kernel ";
        WaitKind wait = ContractEnum.of(WaitKind.class, (int) detail);
        String awaited = wait == null ? "signal kind " + detail : wait.description();
        return switch (error == null ? DeviceError.OK : error) {
            case TIMEOUT -> new EpTimeoutException(operation, rank, peer,
                    kernel + "waited for " + awaited + ": saw call #" + seen + ", expected #" + expected, timeoutMillis);
            case PEER_FAILED -> new EpException(operation + " on rank " + rank + " failed because rank " + peer
                    + " failed in the same call (" + kernel + "saw its poisoned signal while waiting for " + awaited
                    + "); rank " + peer + " raised the cause");
            case ABORTED -> new EpException(operation + " on rank " + rank + " was aborted: the group was aborted ("
                    + "EpGroup.abort, or another rank failed) while " + kernel + "waited for " + awaited);
            case EXPERT_OUT_OF_RANGE -> new InvalidArgumentException(slot(detail, topk), seen,
                    "-1 or an expert in [0, " + expected + ")");
            case WORST_TOKENS_OVERFLOW -> new InvalidArgumentException("numWorstTokens", expected,
                    "at least " + seen + " rows (received on rank " + peer + ")");
            case LL_TOPK_MISMATCH -> new InvalidArgumentException(slot(detail, topk), seen,
                    expected + ", the expert this slot had in the low-latency dispatch of the handle");
            default -> new EpException(operation + " on rank " + rank + ": unknown device error code " + code
                    + (where == null ? "" : " from " + kernel));
        };
    }

    private static String slot(long flatIndex, int topk) {
        return topk > 0 ? "topkIdx[" + flatIndex / topk + "][" + flatIndex % topk + "]" : "topkIdx (flat index " + flatIndex + ")";
    }
}
