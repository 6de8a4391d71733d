/**
 * The CPU backend ({@code EpGroup.cpu(ranks)}, service name "cpu", priority 0): ranks are threads
 * of one JVM, tensors are host memory, and it is the reference every GPU result is compared with.
 *
 * <p>How it works: every collective call of a rank on a buffer is a numbered post on the buffer
 * set's {@code Exchange}. Receivers pull whole rows from the senders' memory with bulk copies in
 * their own threads, then mark the senders' posts read; a sender returns once every rank has read
 * its inputs. Waits are bounded by {@code BufferSpec.timeout} ({@link ep4j.EpTimeoutException}
 * naming the operation, this rank, the first peer missing and the counters seen) and end at once
 * on {@link ep4j.EpGroup#abort} (final for the group) or when a peer closes its buffer. Result
 * memory comes from a per-buffer pool: closed results give it back, so repeated calls neither
 * zero-fill nor page-fault.
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
