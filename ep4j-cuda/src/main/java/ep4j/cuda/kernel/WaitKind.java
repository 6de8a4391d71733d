package ep4j.cuda.kernel;

/** What a kernel's wait that failed (timed out, or saw a poisoned signal) was waiting for (contract.cuh: WaitKind). */
public enum WaitKind implements ContractEnum {
    NOTIFY("kWaitNotify", 0, "the peer's token counts (notify)"),
    DISPATCH_READY("kWaitDispatchReady", 1, "the peer to reach the cached dispatch"),
    DISPATCH_ARRIVAL("kWaitDispatchArrival", 2, "the peer's dispatched rows"),
    COMBINE_READY("kWaitCombineReady", 3, "the peer's expert output (combine ready)"),
    COMBINE_DONE("kWaitCombineDone", 4, "the peer to finish reading our expert output"),
    LL_DISPATCH_FREE("kWaitLlDispatchFree", 5, "the peer to finish receiving the previous low-latency dispatch"),
    LL_DISPATCH_DATA("kWaitLlDispatchData", 6, "the peer's low-latency dispatch rows"),
    LL_COMBINE_FREE("kWaitLlCombineFree", 7, "the peer to finish receiving the previous low-latency combine"),
    LL_COMBINE_DATA("kWaitLlCombineData", 8, "the peer's low-latency combine rows");

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
