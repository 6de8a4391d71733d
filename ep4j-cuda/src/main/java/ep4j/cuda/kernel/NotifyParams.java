package ep4j.cuda.kernel;

/** contract.cuh: NotifyParams, the parameters of ep4j_notify (the count exchange as a launch of its own). */
public final class NotifyParams {
    private static final CStruct.Builder B = CStruct.builder("NotifyParams");
    public static final CommonParams COMMON = CommonParams.declare(B);
    public static final CStruct.I32 NUM_TOKENS = B.i32("num_tokens");
    public static final CStruct.I32 LOCAL_EXPERTS = B.i32("local_experts");
    public static final CStruct.I32 WORST_ROWS = B.i32("worst_rows");
    public static final CStruct.I32 PAD = B.i32("pad");
    public static final CStruct.Ptr SEND_ROW = B.ptr("send_row");
    public static final CStruct.Ptr RECV_TOTAL = B.ptr("recv_total");
    public static final ExchangeParams EXCHANGE = ExchangeParams.declare(B);
    public static final CStruct STRUCT = B.build();

    private NotifyParams() {
    }
}
