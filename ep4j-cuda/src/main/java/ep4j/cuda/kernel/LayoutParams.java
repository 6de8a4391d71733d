package ep4j.cuda.kernel;

/** contract.cuh: LayoutParams, the parameters of ep4j_layout. */
public final class LayoutParams {
    private static final CStruct.Builder B = CStruct.builder("LayoutParams");
    public static final CommonParams COMMON = CommonParams.declare(B);
    public static final CStruct.Ptr TOPK_IDX = B.ptr("topk_idx");
    public static final CStruct.I32 IDX_IS_64 = B.i32("idx_is_64");
    public static final CStruct.I32 NUM_TOKENS = B.i32("num_tokens");
    public static final CStruct.I32 TOPK = B.i32("topk");
    public static final CStruct.I32 NUM_EXPERTS = B.i32("num_experts");
    public static final CStruct.I32 LOCAL_EXPERTS = B.i32("local_experts");
    public static final CStruct.I32 PAD = B.i32("pad");
    public static final CStruct.Ptr PARTIALS = B.ptr("partials");
    public static final CStruct.Ptr TOKENS_PER_RANK = B.ptr("tokens_per_rank");
    public static final CStruct.Ptr TOKENS_PER_EXPERT = B.ptr("tokens_per_expert");
    public static final CStruct.Ptr IS_TOKEN_IN_RANK = B.ptr("is_token_in_rank");
    public static final CStruct STRUCT = B.build();

    private LayoutParams() {
    }
}
