package ep4j.cuda.kernel;

/** Which operation's kernel wrote an error record (contract.cuh: Operation). */
public enum DeviceOperation implements ContractEnum {
    LAYOUT("kOpLayout", 1, "layout"),
    NOTIFY("kOpNotify", 2, "dispatch (count exchange)"),
    DISPATCH("kOpDispatch", 3, "dispatch"),
    COMBINE("kOpCombine", 4, "combine"),
    LL_DISPATCH("kOpLlDispatch", 5, "lowLatencyDispatch"),
    LL_COMBINE("kOpLlCombine", 6, "lowLatencyCombine");

    private final String cName;
    private final int value;
    private final String description;

    DeviceOperation(String cName, int value, String description) {
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

    /** How messages name it. */
    public String description() {
        return description;
    }
}
