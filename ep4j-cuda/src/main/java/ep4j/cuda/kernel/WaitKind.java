package ep4j.cuda.kernel;

/** What a kernel's wait that timed out was waiting for (contract.cuh: WaitKind). */
public enum WaitKind implements ContractEnum {
    NOTIFY("kWaitNotify", 0, "the peer's token counts (notify)"),
    DISPATCH_ARRIVAL("kWaitDispatchArrival", 1, "the peer's dispatched rows (dispatch arrival)"),
    COMBINE_READY("kWaitCombineReady", 2, "the peer's expert output (combine ready)"),
    COMBINE_DONE("kWaitCombineDone", 3, "the peer to finish reading our rows (combine done)"),
    LL_DISPATCH_FREE("kWaitLlDispatchFree", 4, "the peer to free its low-latency dispatch buffer"),
    LL_DISPATCH_DATA("kWaitLlDispatchData", 5, "the peer's low-latency dispatch rows"),
    LL_COMBINE_FREE("kWaitLlCombineFree", 6, "the peer to free its low-latency combine buffer"),
    LL_COMBINE_DATA("kWaitLlCombineData", 7, "the peer's low-latency combine rows");

    private final String cName;
    private final int value;
    private final String description;

    WaitKind(String cName, int value, String description) {
        this.cName = cName;
        this.value = value;
        this.description = description;
    }

    @Override
    public String cName() {
        return cName;
    }

    @Override
    public int value() {
        return value;
    }

    public String description() {
        return description;
    }
}
