package ep4j.cuda.kernel;

import static ep4j.cuda.kernel.KernelConstants.SIGNAL_LINE;

/**
 * contract.cuh: Control, the block at offset 0 of every rank's symmetric heap: the signal words
 * peers write, the offsets this rank publishes, and the call counters its kernels advance. The
 * host only zeroes it at creation and reads it in tests.
 */
public final class ControlLayout {
    private static final CStruct.Builder B = CStruct.builder("Control");
    public static final CStruct.I64s NOTIFY = B.u64s("notify", SIGNAL_LINE);
    public static final CStruct.I64s DISPATCH_READY = B.u64s("dispatch_ready", SIGNAL_LINE);
    public static final CStruct.I64s DISPATCH_ARRIVE = B.u64s("dispatch_arrive", SIGNAL_LINE);
    public static final CStruct.I64s DISPATCH_POISON = B.u64s("dispatch_poison", SIGNAL_LINE);
    public static final CStruct.I64s COMBINE_READY = B.u64s("combine_ready", SIGNAL_LINE);
    public static final CStruct.I64s COMBINE_DONE = B.u64s("combine_done", SIGNAL_LINE);
    public static final CStruct.I64s LL_DISPATCH_DATA = B.u64s("ll_dispatch_data", 2 * SIGNAL_LINE);
    public static final CStruct.I64s LL_DISPATCH_POISON = B.u64s("ll_dispatch_poison", 2 * SIGNAL_LINE);
    public static final CStruct.I64s LL_DISPATCH_FREE = B.u64s("ll_dispatch_free", 2 * SIGNAL_LINE);
    public static final CStruct.I64s LL_COMBINE_DATA = B.u64s("ll_combine_data", 2 * SIGNAL_LINE);
    public static final CStruct.I64s LL_COMBINE_POISON = B.u64s("ll_combine_poison", 2 * SIGNAL_LINE);
    public static final CStruct.I64s LL_COMBINE_FREE = B.u64s("ll_combine_free", 2 * SIGNAL_LINE);
    public static final CStruct.I64 COMBINE_X_OFFSET = B.i64("combine_x_offset");
    public static final CStruct.I64 COMBINE_W_OFFSET = B.i64("combine_w_offset");
    public static final CStruct.I64s SHARED_PAD = B.i64s("shared_pad", 14);
    public static final CStruct.I64 OPS = B.u64("ops");
    public static final CStruct.I64 OP_ERROR = B.u64("op_error");
    public static final CStruct.I64 NOTIFY_CALLS = B.u64("notify_calls");
    public static final CStruct.I64 DISPATCH_CALLS = B.u64("dispatch_calls");
    public static final CStruct.I64 COMBINE_CALLS = B.u64("combine_calls");
    public static final CStruct.I64s LL_DISPATCH_SENT = B.u64s("ll_dispatch_sent", 2);
    public static final CStruct.I64s LL_DISPATCH_RECEIVED = B.u64s("ll_dispatch_received", 2);
    public static final CStruct.I64s LL_COMBINE_SENT = B.u64s("ll_combine_sent", 2);
    public static final CStruct.I64s LL_COMBINE_RECEIVED = B.u64s("ll_combine_received", 2);
    public static final CStruct.I64s LL_DISPATCH_OP = B.u64s("ll_dispatch_op", 2);
    public static final CStruct.I64s LL_COMBINE_OP = B.u64s("ll_combine_op", 2);
    public static final CStruct.I32s BLOCK_COUNTER = B.u32s("block_counter", 4);
    public static final CStruct.I32s TASK_COUNTER = B.u32s("task_counter", 2);
    public static final CStruct STRUCT = B.build();

    private ControlLayout() {
    }
}
