package ep4j.spi;

import ep4j.Tensor;

/**
 * How a backend copies a view of its fixed memory ({@link Results#recycledView}) into memory the
 * copy owns, for {@link ep4j.Dispatched#keep()}. On a GPU the copy is ordered on the rank's
 * stream (it reads the rows before any later call may refill them). For backend implementers.
 */
@FunctionalInterface
public interface Keeper {
    /**
     * A copy of {@code view} that owns its memory.
     *
     * @param view a view of the backend's fixed memory, still readable
     * @return a tensor of the same dtype, shape and device, freed when closed
     */
    Tensor keep(Tensor view);
}
