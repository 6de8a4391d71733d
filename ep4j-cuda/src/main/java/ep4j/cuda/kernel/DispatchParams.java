package ep4j.cuda.kernel;

/** contract.cuh: DispatchParams, the parameters of ep4j_dispatch and ep4j_dispatch_bulk. */
public final class DispatchParams {
    private static final CStruct.Builder B = CStruct.builder("DispatchParams");
    public static final CommonParams COMMON = CommonParams.declare(B);
    public static final CStruct.I32 NUM_TOKENS = B.i32("num_tokens");
    public static final CStruct.I32 ROW_BYTES = B.i32("row_bytes");
    public static final CStruct.I32 SCALE_BYTES = B.i32("scale_bytes");
    public static final CStruct.I32 TOPK = B.i32("topk");
    public static final CStruct.I32 IDX_IS_64 = B.i32("idx_is_64");
    public static final CStruct.I32 LOCAL_EXPERTS = B.i32("local_experts");
    public static final CStruct.I32 WORST_ROWS = B.i32("worst_rows");
    public static final CStruct.I32 ORDER = B.i32("order");
    public static final CStruct.I32 CACHED = B.i32("cached");
    /** 1: the launch runs the count exchange itself (ep4j_dispatch_bulk only; no ep4j_notify before it). */
    public static final CStruct.I32 EXCHANGE = B.i32("exchange");
    public static final CStruct.Ptr X = B.ptr("x");
    public static final CStruct.Ptr SCALES = B.ptr("scales");
    public static final CStruct.Ptr TOPK_IDX = B.ptr("topk_idx");
    public static final CStruct.Ptr TOPK_WEIGHTS = B.ptr("topk_weights");
    public static final CStruct.Ptr SEND_ROW = B.ptr("send_row");
    public static final CStruct.Ptr RECV_TOTAL = B.ptr("recv_total");
    public static final CStruct.I64 O_X = B.i64("o_x");
    public static final CStruct.I64 O_SCALES = B.i64("o_scales");
    public static final CStruct.I64 O_IDX = B.i64("o_idx");
    public static final CStruct.I64 O_WEIGHTS = B.i64("o_weights");
    public static final CStruct.I64 O_SOURCE = B.i64("o_source");
    public static final ExchangeParams EXCHANGE_FIELDS = ExchangeParams.declare(B);
    public static final CStruct STRUCT = B.build();

    private DispatchParams() {
    }
}
