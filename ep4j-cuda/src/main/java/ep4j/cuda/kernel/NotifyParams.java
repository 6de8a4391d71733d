package ep4j.cuda.kernel;

/** contract.cuh: NotifyParams, the parameters of ep4j_notify (the count exchange). */
public final class NotifyParams {
    private static final CStruct.Builder B = CStruct.builder("NotifyParams");
    public static final CommonParams COMMON = CommonParams.declare(B);
    public static final CStruct.I32 NUM_TOKENS = B.i32("num_tokens");
    public static final CStruct.I32 NUM_EXPERTS = B.i32("num_experts");
    public static final CStruct.I32 LOCAL_EXPERTS = B.i32("local_experts");
    public static final CStruct.I32 EXPERT_ALIGNMENT = B.i32("expert_alignment");
    public static final CStruct.I32 WORST_ROWS = B.i32("worst_rows");
    public static final CStruct.I32 PAD = B.i32("pad");
    public static final CStruct.I64 O_MAILBOX = B.i64("o_mailbox");
    public static final CStruct.Ptr IS_TOKEN_IN_RANK = B.ptr("is_token_in_rank");
    public static final CStruct.Ptr TOKENS_PER_EXPERT = B.ptr("tokens_per_expert");
    public static final CStruct.Ptr HANDLE_IN_RANK = B.ptr("handle_in_rank");
    public static final CStruct.Ptr SEND_ROW = B.ptr("send_row");
    public static final CStruct.Ptr RECV_OFFSETS = B.ptr("recv_offsets");
    public static final CStruct.Ptr RECV_TOKENS_PER_EXPERT = B.ptr("recv_tokens_per_expert");
    public static final CStruct.Ptr RECV_TOTAL = B.ptr("recv_total");
    public static final CStruct.Ptr SUMMARY = B.ptr("summary");
    public static final CStruct STRUCT = B.build();

    private NotifyParams() {
    }
}
