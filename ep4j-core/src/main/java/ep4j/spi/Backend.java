package ep4j.spi;

import ep4j.EpGroup;
import ep4j.GroupSpec;

/** A backend found through {@link java.util.ServiceLoader}: "cpu" in ep4j-core, "cuda" in ep4j-cuda. */
public interface Backend {
    String name();

    /** Whether a group of {@code ranks} ranks can be formed here now; {@link #unavailableReason} says why not. */
    boolean isAvailable(int ranks);

    String unavailableReason(int ranks);

    EpGroup open(GroupSpec spec);

    /** Higher wins under "auto". */
    int priority();
}
