package ep4j.cuda.kernel;

/** Which operation's kernel wrote an error record (contract.cuh: Operation). */
public enum DeviceOperation implements ContractEnum {
    LAYOUT(1, "layout"),
    NOTIFY(2, "dispatch (count exchange)"),
    DISPATCH(3, "dispatch"),
    COMBINE(4, "combine"),
    LL_DISPATCH(5, "lowLatencyDispatch"),
    LL_COMBINE(6, "lowLatencyCombine");

    private final int value;
    private final String description;

    DeviceOperation(int value, String description) {
        this.value = value;
        this.description = description;
    }

    @Override
    public String cPrefix() {
        return "kOp";
    }

    @Override
    public int value() {
        return value;
    }

    /** How messages name it. */
    public String description() {
        return description;
    }
}
