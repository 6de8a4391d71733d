package ep4j.cuda.kernel;

/** A Java enum that mirrors an enum of the kernel contract (contract.cuh), value for value. */
public interface ContractEnum {
    /** The C enumerator's name, e.g. {@code kTimeout}. */
    String cName();

    /** The C enumerator's value. */
    int value();

    /** The constant of {@code type} with C value {@code value}, or null. */
    static <E extends Enum<E> & ContractEnum> E of(Class<E> type, int value) {
        for (E e : type.getEnumConstants()) {
            if (e.value() == value) {
                return e;
            }
        }
        return null;
    }
}
