package ep4j.cuda.kernel;

/** contract.cuh: LlParams, the parameters of ep4j_ll_dispatch and ep4j_ll_combine. */
public final class LlParams {
    private static final CStruct.Builder B = CStruct.builder("LlParams");
    public static final CommonParams COMMON = CommonParams.declare(B);
    public static final CStruct.Ptr X = B.ptr("x");
    public static final CStruct.Ptr TOPK_IDX = B.ptr("topk_idx");
    public static final CStruct.Ptr WEIGHTS = B.ptr("weights");
    public static final CStruct.Ptr Y = B.ptr("y");
    public static final CStruct.Ptr OUT = B.ptr("out");
    public static final CStruct.Ptr RECV_X = B.ptr("recv_x");
    public static final CStruct.Ptr RECV_SCALES = B.ptr("recv_scales");
    public static final CStruct.Ptr RECV_COUNT = B.ptr("recv_count");
    public static final CStruct.Ptr SOURCE_TOKEN = B.ptr("source_token");
    public static final CStruct.Ptr RANGES = B.ptr("ranges");
    public static final CStruct.Ptr FIRST_K = B.ptr("first_k");
    public static final CStruct.Ptr DTOPK = B.ptr("dtopk");
    public static final CStruct.I64 O_DATA = B.i64("o_data");
    public static final CStruct.I64 O_HDR = B.i64("o_hdr");
    public static final CStruct.I64 O_CNT = B.i64("o_cnt");
    public static final CStruct.I64 O_CREG = B.i64("o_creg");
    public static final CStruct.I32 SLOT = B.i32("slot");
    public static final CStruct.I32 PHASE = B.i32("phase");
    public static final CStruct.I32 NUM_TOKENS = B.i32("num_tokens");
    public static final CStruct.I32 HIDDEN = B.i32("hidden");
    public static final CStruct.I32 TOPK = B.i32("topk");
    public static final CStruct.I32 TOPK64 = B.i32("topk64");
    public static final CStruct.I32 EXPERTS = B.i32("experts");
    public static final CStruct.I32 LOCAL_EXPERTS = B.i32("local_experts");
    public static final CStruct.I32 MAX_TOKENS = B.i32("max_tokens");
    public static final CStruct.I32 MAX_TOPK = B.i32("max_topk");
    public static final CStruct.I32 MODE = B.i32("mode");
    public static final CStruct.I32 ROW_STRIDE = B.i32("row_stride");
    public static final CStruct.I32 X_ROW_BYTES = B.i32("x_row_bytes");
    public static final CStruct.I32 SCALE_BYTES = B.i32("scale_bytes");
    public static final CStruct.I32 SEND_BLOCKS = B.i32("send_blocks");
    public static final CStruct.I32 PAD = B.i32("pad");
    public static final CStruct.Ptr TRACE = B.ptr("trace");
    public static final CStruct STRUCT = B.build();

    private LlParams() {
    }
}
