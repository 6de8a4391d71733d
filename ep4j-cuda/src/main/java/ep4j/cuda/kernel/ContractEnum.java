package ep4j.cuda.kernel;

/**
 * A Java enum that mirrors an enum of the kernel contract (contract.cuh), value for value. The C
 * enumerator's name follows from the Java one: the enum's C prefix, then the Java name in camel
 * case ({@code LL_DISPATCH_FREE} in {@link WaitKind} is {@code kWaitLlDispatchFree}); the
 * contract check compares both names and values with what nvcc compiled.
 */
public interface ContractEnum {
    /** The prefix of this enum's C enumerators, e.g. {@code kWait}. */
    String cPrefix();

    /** The Java constant's name ({@link Enum#name()}). */
    String name();

    /** The C enumerator's name, e.g. {@code kTimeout}. */
    default String cName() {
        StringBuilder c = new StringBuilder(cPrefix());
        for (String word : name().split("_")) {
            c.append(word.charAt(0)).append(word.substring(1).toLowerCase(java.util.Locale.ROOT));
        }
        return c.toString();
    }

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
