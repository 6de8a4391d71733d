package ep4j.spi;

import ep4j.EpGroup;
import ep4j.GroupSpec;
import org.jspecify.annotations.Nullable;

/**
 * A backend, found through {@link java.util.ServiceLoader}: "cpu" in ep4j-core, "cuda" in
 * ep4j-cuda. An implementation has a public no-argument constructor and is declared with
 * {@code provides ep4j.spi.Backend with ...} in its module (and in
 * {@code META-INF/services/ep4j.spi.Backend} for the class path). Its buffers make their results
 * through {@link Results}, validate requests the same way as the others, and keep the semantics
 * of the CPU backend, the reference.
 */
public interface Backend {
    /**
     * The name {@link GroupSpec#backend(String)} selects it by.
     *
     * @return e.g. "cpu", "cuda"
     */
    String name();

    /**
     * Whether a group of {@code ranks} ranks can be formed here now.
     *
     * @param ranks the group size
     * @return true when {@link #unavailableReason(int)} is null
     */
    boolean isAvailable(int ranks);

    /**
     * Why a group of {@code ranks} ranks cannot be formed here.
     *
     * @param ranks the group size
     * @return the reason, or null when it can
     */
    @Nullable String unavailableReason(int ranks);

    /**
     * Why the group {@code spec} describes cannot be formed here.
     *
     * @param spec a concluded spec
     * @return the reason, or null when it can
     */
    default @Nullable String unavailableReason(GroupSpec spec) {
        return unavailableReason(spec.size());
    }

    /**
     * Forms the group.
     *
     * @param spec a concluded spec naming this backend (or "auto")
     * @return the group, owned by the caller
     * @throws ep4j.EpException when it cannot be formed
     */
    EpGroup open(GroupSpec spec);

    /**
     * The order under "auto": the available backend with the highest priority wins.
     *
     * @return the priority (cpu 0, cuda 10)
     */
    int priority();
}
