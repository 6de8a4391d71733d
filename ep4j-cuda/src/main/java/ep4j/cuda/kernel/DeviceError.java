package ep4j.cuda.kernel;

/** What a kernel found and wrote into its operation's call record (contract.cuh: ErrorCode). */
public enum DeviceError implements ContractEnum {
    OK(0),
    TIMEOUT(1),
    EXPERT_OUT_OF_RANGE(2),
    WORST_TOKENS_OVERFLOW(3),
    LL_TOPK_MISMATCH(4),
    PEER_FAILED(5),
    ABORTED(6);

    private final int value;

    DeviceError(int value) {
        this.value = value;
    }

    @Override
    public String cPrefix() {
        return "k";
    }

    @Override
    public int value() {
        return value;
    }
}
