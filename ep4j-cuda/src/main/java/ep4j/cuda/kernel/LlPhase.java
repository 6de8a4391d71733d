package ep4j.cuda.kernel;

/** Which half of a low-latency call a launch runs (contract.cuh: LlPhase). */
public enum LlPhase implements ContractEnum {
    SEND_AND_RECEIVE(0),
    SEND(1),
    RECEIVE(2);

    private final int value;

    LlPhase(int value) {
        this.value = value;
    }

    @Override
    public String cPrefix() {
        return "kLl";
    }

    @Override
    public int value() {
        return value;
    }
}
