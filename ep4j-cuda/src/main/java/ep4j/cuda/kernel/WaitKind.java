package ep4j.cuda.kernel;

/** What a kernel's wait that failed (timed out, or saw a poisoned signal) was waiting for (contract.cuh: WaitKind). */
public enum WaitKind implements ContractEnum {
    NOTIFY(0, "the peer's token counts (notify)"),
    DISPATCH_READY(1, "the peer to reach the cached dispatch"),
    DISPATCH_ARRIVAL(2, "the peer's dispatched rows"),
    COMBINE_READY(3, "the peer's expert output (combine ready)"),
    COMBINE_DONE(4, "the peer to finish reading our expert output"),
    LL_DISPATCH_FREE(5, "the peer to finish receiving the previous low-latency dispatch"),
    LL_DISPATCH_DATA(6, "the peer's low-latency dispatch rows"),
    LL_COMBINE_FREE(7, "the peer to finish receiving the previous low-latency combine"),
    LL_COMBINE_DATA(8, "the peer's low-latency combine rows");

    private final int value;
    private final String description;

    WaitKind(int value, String description) {
        this.value = value;
        this.description = description;
    }

    @Override
    public String cPrefix() {
        return "kWait";
    }

    @Override
    public int value() {
        return value;
    }

    public String description() {
        return description;
    }
}
