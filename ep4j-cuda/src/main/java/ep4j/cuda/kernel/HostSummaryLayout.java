package ep4j.cuda.kernel;

/** contract.cuh: HostSummary, what the count exchange tells the host (one per dispatch slot). */
public final class HostSummaryLayout {
    private static final CStruct.Builder B = CStruct.builder("HostSummary");
    public static final CStruct.I64 STAMP = B.u64("stamp");
    public static final CStruct.I32 TOTAL = B.i32("total");
    public static final CStruct.I32 PAD = B.i32("pad");
    public static final CStruct.I32s TOKENS_PER_EXPERT = B.i32s("tokens_per_expert", KernelConstants.MAX_EXPERTS);
    public static final CStruct STRUCT = B.build();

    private HostSummaryLayout() {
    }
}
