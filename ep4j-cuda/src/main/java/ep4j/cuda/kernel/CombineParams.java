package ep4j.cuda.kernel;

import static ep4j.cuda.kernel.KernelConstants.MAX_RANKS;

/** contract.cuh: CombineParams, the parameters of ep4j_combine_r1 .. r8. */
public final class CombineParams {
    private static final CStruct.Builder B = CStruct.builder("CombineParams");
    public static final CStruct.I32 RANK = B.i32("rank");
    public static final CStruct.I32 RANKS = B.i32("ranks");
    public static final CStruct.I32 NUM_TOKENS = B.i32("num_tokens");
    public static final CStruct.I32 HIDDEN = B.i32("hidden");
    public static final CStruct.I32 TOPK = B.i32("topk");
    public static final CStruct.I32 OPERATION = B.i32("operation");
    public static final CStruct.Ptr IS_TOKEN_IN_RANK = B.ptr("is_token_in_rank");
    public static final CStruct.Ptr SEND_ROW = B.ptr("send_row");
    public static final CStruct.Ptrs X = B.ptrs("x", MAX_RANKS);
    public static final CStruct.Ptrs WEIGHTS = B.ptrs("weights", MAX_RANKS);
    public static final CStruct.Ptr BIAS0 = B.ptr("bias0");
    public static final CStruct.Ptr BIAS1 = B.ptr("bias1");
    public static final CStruct.Ptr OUT = B.ptr("out");
    public static final CStruct.Ptr OUT_WEIGHTS = B.ptr("out_weights");
    public static final CStruct.Ptrs SIGNALS = B.ptrs("signals", MAX_RANKS);
    public static final CStruct.Ptr BLOCK_COUNTER = B.ptr("block_counter");
    public static final CStruct.I64 SEQ = B.u64("seq");
    public static final CStruct.I64 TIMEOUT_NS = B.i64("timeout_ns");
    public static final CStruct.Ptr ERROR = B.ptr("error");
    public static final CStruct STRUCT = B.build();

    private CombineParams() {
    }
}
