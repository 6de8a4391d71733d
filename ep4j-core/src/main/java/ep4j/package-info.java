/**
 * The ep4j API: expert-parallel communication (Mixture-of-Experts dispatch and combine) between
 * ranks, on GPUs or on the CPU, with the semantics of the project's DESIGN.md.
 *
 * <p>Start with {@link ep4j.EpGroup} (form a group of ranks), {@link ep4j.EpGroup#allocate}
 * (one {@link ep4j.EpBuffer} per rank, sized by a {@link ep4j.BufferSpec}), and the buffer's
 * calls: {@link ep4j.EpBuffer#layout}, {@link ep4j.EpBuffer#dispatch},
 * {@link ep4j.EpBuffer#combine} and their low-latency counterparts. Tensors
 * ({@link ep4j.Tensor}) are dense row-major views of host or device memory.
 *
 * <p>Conventions of the whole API:
 * <ul>
 *   <li>Nothing is null unless marked {@code @Nullable} (JSpecify, {@code @NullMarked}).</li>
 *   <li>Shapes and counts are in elements; sizes in bytes say so; times say their unit.</li>
 *   <li>Whoever receives an {@link java.lang.AutoCloseable} from ep4j owns it and closes it;
 *       closing twice is harmless; using a closed object is an {@link java.lang.IllegalStateException}.</li>
 *   <li>A bad argument is an {@link ep4j.InvalidArgumentException}, thrown before anything
 *       changes; every other failure is an {@link ep4j.EpException}.</li>
 *   <li>Results are bit-identical run to run and between backends (DESIGN 2.7).</li>
 * </ul>
 */
@NullMarked
package ep4j;

import org.jspecify.annotations.NullMarked;
