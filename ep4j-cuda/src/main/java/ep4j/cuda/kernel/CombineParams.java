package ep4j.cuda.kernel;

/** contract.cuh: CombineParams, the parameters of ep4j_combine_r1 .. r8. */
public final class CombineParams {
    private static final CStruct.Builder B = CStruct.builder("CombineParams");
    public static final CommonParams COMMON = CommonParams.declare(B);
    public static final CStruct.I32 NUM_TOKENS = B.i32("num_tokens");
    public static final CStruct.I32 HIDDEN = B.i32("hidden");
    public static final CStruct.I32 TOPK = B.i32("topk");
    public static final CStruct.I32 NUM_ROWS = B.i32("num_rows");
    public static final CStruct.Ptr IS_TOKEN_IN_RANK = B.ptr("is_token_in_rank");
    public static final CStruct.Ptr SEND_ROW = B.ptr("send_row");
    public static final CStruct.Ptr X = B.ptr("x");
    public static final CStruct.Ptr WEIGHTS = B.ptr("weights");
    public static final CStruct.I64 O_STAGE_X = B.i64("o_stage_x");
    public static final CStruct.I64 O_STAGE_W = B.i64("o_stage_w");
    public static final CStruct.Ptr BIAS0 = B.ptr("bias0");
    public static final CStruct.Ptr BIAS1 = B.ptr("bias1");
    public static final CStruct.Ptr OUT = B.ptr("out");
    public static final CStruct.Ptr OUT_WEIGHTS = B.ptr("out_weights");
    public static final CStruct STRUCT = B.build();

    private CombineParams() {
    }
}
