package ep4j.cuda.normal;

import ep4j.DType;
import ep4j.Tensor;
import ep4j.cuda.control.RankRuntime;
import ep4j.spi.Generation;
import ep4j.spi.Results;

/** The views a dispatch hands out over its receive slot: valid while the slot holds this call's rows. */
final class Views {
    private final RankRuntime rt;
    private final Generation slot;
    private final long generation;

    Views(RankRuntime rt, Generation slot, long generation) {
        this.rt = rt;
        this.slot = slot;
        this.generation = generation;
    }

    Tensor of(long address, DType dtype, long... shape) {
        return Results.recycledView(address, rt.context.device().ordinal(), dtype, slot, generation, shape);
    }

    /** A view of memory a handle owns (its counts): the handle outlives the slot. */
    static Tensor of(RankRuntime rt, Tensor owned, long... shape) {
        return Tensor.ofDevice(owned.address(), rt.context.device().ordinal(), owned.dtype(), shape);
    }
}
