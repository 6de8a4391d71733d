package ep4j.cuda.kernel;

import static ep4j.cuda.kernel.KernelConstants.MAX_RANKS;

/** contract.cuh: NotifyParams, the parameters of ep4j_notify (the count exchange). */
public final class NotifyParams {
    private static final CStruct.Builder B = CStruct.builder("NotifyParams");
    public static final CStruct.I32 RANK = B.i32("rank");
    public static final CStruct.I32 RANKS = B.i32("ranks");
    public static final CStruct.I32 NUM_TOKENS = B.i32("num_tokens");
    public static final CStruct.I32 NUM_EXPERTS = B.i32("num_experts");
    public static final CStruct.I32 LOCAL_EXPERTS = B.i32("local_experts");
    public static final CStruct.I32 EXPERT_ALIGNMENT = B.i32("expert_alignment");
    public static final CStruct.I32 WORST_ROWS = B.i32("worst_rows");
    public static final CStruct.Ptr IS_TOKEN_IN_RANK = B.ptr("is_token_in_rank");
    public static final CStruct.Ptr TOKENS_PER_EXPERT = B.ptr("tokens_per_expert");
    public static final CStruct.Ptrs MAILBOX = B.ptrs("mailbox", MAX_RANKS);
    public static final CStruct.Ptrs SIGNALS = B.ptrs("signals", MAX_RANKS);
    public static final CStruct.I64 SEQ = B.u64("seq");
    public static final CStruct.I64 TIMEOUT_NS = B.i64("timeout_ns");
    public static final CStruct.Ptr SEND_ROW = B.ptr("send_row");
    public static final CStruct.Ptr RECV_OFFSETS = B.ptr("recv_offsets");
    public static final CStruct.Ptr RECV_TOKENS_PER_EXPERT = B.ptr("recv_tokens_per_expert");
    public static final CStruct.Ptr RECV_TOTAL = B.ptr("recv_total");
    public static final CStruct.Ptr HOST_SUMMARY = B.ptr("host_summary");
    public static final CStruct.Ptr ERROR = B.ptr("error");
    public static final CStruct STRUCT = B.build();

    private NotifyParams() {
    }
}
