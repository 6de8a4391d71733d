package ep4j.cuda.kernel;

/** What a kernel found and wrote into its operation's call record (contract.cuh: ErrorCode). */
public enum DeviceError implements ContractEnum {
    OK("kOk", 0),
    TIMEOUT("kTimeout", 1),
    EXPERT_OUT_OF_RANGE("kExpertOutOfRange", 2),
    WORST_TOKENS_OVERFLOW("kWorstTokensOverflow", 3),
    LL_TOPK_MISMATCH("kLlTopkMismatch", 4),
    PEER_FAILED("kPeerFailed", 5),
    ABORTED("kAborted", 6);

    private final String cName;
    private final int value;

    DeviceError(String cName, int value) {
        this.cName = cName;
        this.value = value;
    }

    @Override
    public String cName() {
        return cName;
    }

    @Override
    public int value() {
        return value;
    }
}
