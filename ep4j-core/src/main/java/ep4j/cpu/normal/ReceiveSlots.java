package ep4j.cpu.normal;

import ep4j.DType;
import ep4j.InvalidArgumentException;
import ep4j.Tensor;
import ep4j.cpu.control.RankRuntime;
import ep4j.spi.Generation;
import ep4j.spi.HostMemory;
import ep4j.spi.Keeper;
import ep4j.spi.Results;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.jspecify.annotations.Nullable;

/**
 * The two receive slots of one rank's normal dispatches, with the GPU's rule: consecutive
 * dispatches, fresh and cached alike, alternate between them, and what a dispatch received
 * (tokens, scales, top-k, weights, source tokens) stays in its slot. The tensors it hands out are
 * views over the slot's {@link Generation}; the dispatch after next advances it when it starts
 * refilling the slot, and from then on reading them throws {@link IllegalStateException} naming
 * the slot. {@link #keeper()} copies a view into pool memory for {@link ep4j.Dispatched#keep()}.
 *
 * <p>Memory. On the GPU the slots are symmetric memory, fixed at creation for the worst case
 * ({@code R * maxTokensPerRank} rows), because peers write into them. Here no peer writes into a
 * slot (each rank pulls its rows from the senders' shared regions), so a slot is private, one
 * host allocation of exactly what the largest dispatch it has held needed, grown when a dispatch needs
 * more, never more than the worst case: a buffer sized generously costs only what its dispatches
 * use, and a rank that never dispatches holds nothing. Growing happens after the generation
 * advanced, so no readable view ever sees the memory go.
 */
final class ReceiveSlots implements AutoCloseable {
    private final RankRuntime rt;
    private final Slot[] slots;
    private int next;

    ReceiveSlots(RankRuntime rt) {
        this.rt = rt;
        this.slots = new Slot[] {new Slot(0), new Slot(1)};
    }

    /**
     * Rejects {@code input} when it lies in the slot the next dispatch refills: a view of the
     * dispatch before the previous one expires as this dispatch starts, so it cannot be its input.
     *
     * @param name  the argument's name
     * @param input an input of the next dispatch, or null
     * @throws InvalidArgumentException when it lies in that slot
     */
    void checkNotRefilled(String name, @Nullable Tensor input) {
        Slot s = slots[next];
        if (input != null && s.memory.byteSize() > 0 && s.memory.asOverlappingSlice(input.segment()).isPresent()) {
            throw new InvalidArgumentException(name, input + " in the " + s.generation.region(),
                    "a tensor outside the slot this dispatch refills (it holds the rows of the dispatch before the "
                            + "previous one, which expire now: keep() that result, or copy the rows, first)");
        }
    }

    /**
     * Starts a dispatch: takes the next slot (the one after goes to the other) and advances its
     * generation, which makes the views of its previous contents unreadable.
     *
     * @return the slot, at its new generation
     */
    Slot refill() {
        Slot s = slots[next];
        next ^= 1;
        s.generation.advance();
        return s;
    }

    /** Copies a still readable view into memory of the rank's pool: what {@code keep()} does. */
    Keeper keeper() {
        return view -> {
            Tensor copy = rt.pool.tensor(view.dtype(), view.shape());
            try {
                MemorySegment.copy(view.segment(), 0, copy.segment(), 0, view.byteSize());
                view.segment(); // still readable after the copy, so the copy is whole
            } catch (RuntimeException e) {
                copy.close();
                throw e;
            }
            return copy;
        };
    }

    @Override
    public void close() {
        for (Slot s : slots) {
            s.close();
        }
    }

    /** One slot: its generation and its memory, carved into regions anew by every dispatch. */
    final class Slot implements AutoCloseable {
        private final Generation generation;
        private @Nullable Arena arena;
        private MemorySegment memory = MemorySegment.NULL;

        private Slot(int index) {
            this.generation = new Generation("normal receive slot " + index + " of rank " + rt.rank);
        }

        /**
         * Memory for the tensors of this dispatch, of the given sizes, each region
         * {@link HostMemory#ALIGNMENT}-aligned; the slot grows first when they do not fit.
         *
         * @param bytes the size of each region
         * @return the regions, in order (contents undefined)
         */
        MemorySegment[] regions(long... bytes) {
            long need = 0;
            for (long b : bytes) {
                need += align(b);
            }
            if (need > memory.byteSize()) {
                grow(need);
            }
            MemorySegment[] out = new MemorySegment[bytes.length];
            long at = 0;
            for (int i = 0; i < bytes.length; i++) {
                out[i] = memory.asSlice(at, bytes[i]);
                at += align(bytes[i]);
            }
            return out;
        }

        private void grow(long bytes) {
            Arena old = arena;
            arena = null;
            memory = MemorySegment.NULL;
            if (old != null) {
                old.close();
            }
            Arena a = Arena.ofShared();
            try {
                memory = HostMemory.allocate(a, bytes, "the " + generation.region());
            } catch (RuntimeException e) {
                a.close();
                throw e;
            }
            arena = a;
        }

        /** A view of {@code region} (from {@link #regions}) at the slot's current generation. */
        Tensor view(MemorySegment region, DType dtype, long... shape) {
            return Results.recycledHostView(region, dtype, generation, generation.current(), shape);
        }

        @Override
        public void close() {
            if (arena != null) {
                arena.close();
                arena = null;
            }
            memory = MemorySegment.NULL;
        }
    }

    private static long align(long bytes) {
        return (bytes + HostMemory.ALIGNMENT - 1) / HostMemory.ALIGNMENT * HostMemory.ALIGNMENT;
    }
}
