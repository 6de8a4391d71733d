/**
 * The CPU backend ({@code EpGroup.cpu(ranks)}, service name "cpu", priority 0): ranks are threads
 * of one JVM, or processes of one host (a multi-process {@code GroupSpec}: one rank each, meeting
 * through the job's rendezvous at setup); tensors are host memory, and it is the reference every
 * GPU result is compared with.
 *
 * <p>How it works, the same for threads and processes: everything ranks exchange is in shared
 * segments, never a Java object ({@code control.Exchange}). Each rank has a control block (call
 * records, counters written with release and read with acquire, acknowledgements its peers write)
 * and data regions its peers map; in one JVM the segments are allocations of the group, across
 * processes files under /dev/shm that every process maps ({@code memory.SharedSegments}). Every
 * collective call of a rank is numbered and posted with its signature, its data written first;
 * receivers compare signatures ("collective mismatch"), pull whole rows from the senders' regions
 * with bulk copies in their own threads, then acknowledge; a sender returns once every rank has
 * read its data. Waits are bounded by {@code BufferSpec.timeout} ({@link ep4j.EpTimeoutException}
 * naming the operation, this rank, the first peer missing and the counters seen) and end at once
 * on {@link ep4j.EpGroup#abort} (final for the group; marked in shared memory, so ranks of other
 * processes stop too), when a peer closes its buffer, when a peer failed the call awaited, or when
 * a peer's process died ({@link ep4j.PeerDiedException}). A job's files go when the group closes,
 * at JVM exit, when a surviving peer closes after its owner died, or, after a whole job was
 * killed, when the next multi-process group starts ({@code shm.ShmFiles}).
 *
 * <p>Memory, with the GPU's rules: a normal dispatch leaves what it received in one of two
 * receive slots of the rank, which dispatches (fresh and cached) alternate; its tokens, scales,
 * top-k, weights and the handle's source tokens are views that expire when the dispatch after
 * next refills the slot ({@link ep4j.Dispatched#keep()} copies them out). A slot grows to the
 * largest dispatch it has held and is then reused. Every other result (layouts, counts, the rest
 * of a handle, combine outputs, kept copies) comes from a per-buffer pool: closed results give
 * it back, so repeated calls neither zero-fill nor page-fault. Low-latency results are views of
 * the rank's two low-latency slots.
 *
 * <p>Layout, mirroring the GPU backend's: this package holds the backend, the group and a thin
 * {@code CpuBuffer} (validation, lifecycle, delegation); {@code control} the exchange (control
 * blocks, waits, data regions, the collective setup) and the state every path of a rank shares
 * ({@code RankRuntime}); {@code memory} the result pool and the shared segments of one JVM;
 * {@code shm} the shared segments of processes (/dev/shm files, liveness, clean-up);
 * {@code kernel} the routing arithmetic and the row loops; {@code normal} and {@code lowlatency}
 * one path each. None of them is exported.
 *
 * <p>Definitions where DESIGN 2 leaves a choice:
 * <ul>
 *   <li><b>Duplicate experts</b>: a token that lists one expert in several topk slots selected it
 *       once. It counts once in {@code tokensPerExpert} (layout and received), a low-latency
 *       dispatch sends it once to that expert; the received topk keeps every slot (each mapped
 *       to the local index), and low-latency combine adds {@code w_k * y} for every slot.</li>
 *   <li>A layout passed with topk must be the layout of that topk (checked).</li>
 *   <li>Cached dispatch ignores {@code numWorstTokens}: rows are those of the handle.</li>
 *   <li>Low-latency combine takes the topk of its dispatch (checked) and needs that dispatch
 *       received on this rank; its hook goes stale when a later combine reuses its slot.</li>
 *   <li>All ranks make the same calls in the same order on a buffer; a different call under the
 *       same number (dispatch/combine, fp8/bf16, topk/none, different handles) is an
 *       {@link ep4j.EpException} "collective mismatch" on the ranks involved, not a wrong result.</li>
 * </ul>
 */
package ep4j.cpu;
