package ep4j.cpu.normal;

/**
 * The CPU part of a {@link ep4j.DispatchHandle}: host copies of the routing that combine and a
 * cached dispatch use (they never read the handle's tensors, whose source-token view may have
 * expired).
 *
 * @param routingId     the call number of the dispatch that made the routing (names it in signatures)
 * @param numExperts    {@code E}
 * @param sendRow       {@code [T * R]}: the row token t took on rank j, or -1
 * @param sourceToken   {@code [rows]}: the source token of every received row, -1 past the received count
 * @param offsets       {@code [R + 1]}: where the rows of each source rank begin
 * @param recvPerExpert {@code [L]}: received tokens per local expert, not aligned
 * @param worstSized    whether the rows were sized by {@code numWorstTokens}
 */
record HandleState(long routingId, int numExperts, int[] sendRow, int[] sourceToken, int[] offsets,
        int[] recvPerExpert, boolean worstSized) {
}
