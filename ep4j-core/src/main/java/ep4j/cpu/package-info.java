/**
 * The CPU backend ({@code EpGroup.cpu(ranks)}, service name "cpu", priority 0): ranks are threads
 * of one JVM, tensors are host memory, and it is the reference every GPU result is compared with.
 *
 * <p>How it works: every collective call of a rank on a buffer is a numbered post on the buffer
 * set's {@code Exchange}. Receivers pull whole rows from the senders' memory with bulk copies in
 * their own threads, then mark the senders' posts read; a sender returns once every rank has read
 * its inputs. Waits are bounded by {@code BufferSpec.timeout} ({@link ep4j.EpTimeoutException}
 * naming the operation, this rank, the first peer missing and the counters seen) and end at once
 * on {@link ep4j.EpGroup#abort} (final for the group) or when a peer closes its buffer.
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
 * {@code CpuBuffer} (validation, lifecycle, delegation); {@code control} the exchange and the
 * state every path of a rank shares ({@code RankRuntime}); {@code memory} the result pool;
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
