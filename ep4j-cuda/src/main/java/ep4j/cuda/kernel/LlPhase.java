package ep4j.cuda.kernel;

/** Which half of a low-latency call a launch runs (contract.cuh: LlPhase). */
public enum LlPhase implements ContractEnum {
    SEND_AND_RECEIVE("kLlSendAndReceive", 0),
    SEND("kLlSend", 1),
    RECEIVE("kLlReceive", 2);

    private final String cName;
    private final int value;

    LlPhase(String cName, int value) {
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
