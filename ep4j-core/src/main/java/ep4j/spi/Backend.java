package ep4j.spi;

import ep4j.EpGroup;
import ep4j.GroupSpec;

/** A backend found through {@link java.util.ServiceLoader}: "cpu" in ep4j-core, "cuda" in ep4j-cuda. */
public interface Backend {
    String name();

    /** Whether a group of {@code ranks} ranks can be formed here now; {@link #unavailableReason} says why not. */
    boolean isAvailable(int ranks);

    /** Why a group of {@code ranks} ranks cannot be formed here, or null when it can. */
    String unavailableReason(int ranks);

    /** Why the group {@code spec} describes cannot be formed here, or null when it can. */
    default String unavailableReason(GroupSpec spec) {
        return unavailableReason(spec.size());
    }

    EpGroup open(GroupSpec spec);

    /** Higher wins under "auto". */
    int priority();
}
