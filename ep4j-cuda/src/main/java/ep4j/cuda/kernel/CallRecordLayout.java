package ep4j.cuda.kernel;

/**
 * contract.cuh: CallRecord, one operation's record in a rank's host-mapped ring. The kernels
 * write the op's first error, then its stamp (op number + 1) last of all.
 */
public final class CallRecordLayout {
    private static final CStruct.Builder B = CStruct.builder("CallRecord");
    public static final CStruct.I32 CODE = B.i32("code");
    public static final CStruct.I32 OPERATION = B.i32("operation");
    public static final CStruct.I32 PEER = B.i32("peer");
    public static final CStruct.I32 PAD = B.i32("pad");
    public static final CStruct.I64 SEEN = B.i64("seen");
    public static final CStruct.I64 EXPECTED = B.i64("expected");
    public static final CStruct.I64 DETAIL = B.i64("detail");
    public static final CStruct.I64 STAMP = B.u64("stamp");
    public static final CStruct.I64s TAIL = B.i64s("tail", 2);
    public static final CStruct STRUCT = B.build();

    private CallRecordLayout() {
    }
}
