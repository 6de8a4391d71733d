package ep4j.cuda.kernel;

/** The normal path's signal words: each rank's array is [kind][source rank] (contract.cuh: SignalKind). */
public enum SignalKind implements ContractEnum {
    NOTIFY("kNotify", 0),
    DISPATCH_ARRIVE("kDispatchArrive", 1),
    COMBINE_READY("kCombineReady", 2),
    COMBINE_DONE("kCombineDone", 3),
    COUNT("kNumSignalKinds", 4);

    private final String cName;
    private final int value;

    SignalKind(String cName, int value) {
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
