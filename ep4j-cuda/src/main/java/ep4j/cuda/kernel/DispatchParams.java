package ep4j.cuda.kernel;

import static ep4j.cuda.kernel.KernelConstants.MAX_RANKS;

/** contract.cuh: DispatchParams, the parameters of ep4j_dispatch and ep4j_dispatch_bulk. */
public final class DispatchParams {
    private static final CStruct.Builder B = CStruct.builder("DispatchParams");
    public static final CStruct.I32 RANK = B.i32("rank");
    public static final CStruct.I32 RANKS = B.i32("ranks");
    public static final CStruct.I32 NUM_TOKENS = B.i32("num_tokens");
    public static final CStruct.I32 ROW_BYTES = B.i32("row_bytes");
    public static final CStruct.I32 SCALE_BYTES = B.i32("scale_bytes");
    public static final CStruct.I32 TOPK = B.i32("topk");
    public static final CStruct.I32 IDX_IS_64 = B.i32("idx_is_64");
    public static final CStruct.I32 LOCAL_EXPERTS = B.i32("local_experts");
    public static final CStruct.I32 WORST_ROWS = B.i32("worst_rows");
    public static final CStruct.I32 OPERATION = B.i32("operation");
    public static final CStruct.I32 ORDER = B.i32("order");
    public static final CStruct.Ptr X = B.ptr("x");
    public static final CStruct.Ptr SCALES = B.ptr("scales");
    public static final CStruct.Ptr TOPK_IDX = B.ptr("topk_idx");
    public static final CStruct.Ptr TOPK_WEIGHTS = B.ptr("topk_weights");
    public static final CStruct.Ptr IS_TOKEN_IN_RANK = B.ptr("is_token_in_rank");
    public static final CStruct.Ptr SEND_ROW = B.ptr("send_row");
    public static final CStruct.Ptr RECV_TOTAL = B.ptr("recv_total");
    public static final CStruct.Ptrs OUT_X = B.ptrs("out_x", MAX_RANKS);
    public static final CStruct.Ptrs OUT_SCALES = B.ptrs("out_scales", MAX_RANKS);
    public static final CStruct.Ptrs OUT_IDX = B.ptrs("out_idx", MAX_RANKS);
    public static final CStruct.Ptrs OUT_WEIGHTS = B.ptrs("out_weights", MAX_RANKS);
    public static final CStruct.Ptrs OUT_SOURCE = B.ptrs("out_source", MAX_RANKS);
    public static final CStruct.Ptrs SIGNALS = B.ptrs("signals", MAX_RANKS);
    public static final CStruct.Ptr BLOCK_COUNTER = B.ptr("block_counter");
    public static final CStruct.Ptr TASK_COUNTER = B.ptr("task_counter");
    public static final CStruct.I64 SEQ = B.u64("seq");
    public static final CStruct.I64 TIMEOUT_NS = B.i64("timeout_ns");
    public static final CStruct.Ptr ERROR = B.ptr("error");
    public static final CStruct STRUCT = B.build();

    private DispatchParams() {
    }
}
