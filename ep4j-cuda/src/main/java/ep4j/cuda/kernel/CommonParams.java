package ep4j.cuda.kernel;

import static ep4j.cuda.kernel.KernelConstants.MAX_RANKS;

/**
 * The fields every kernel's parameter struct begins with (contract.cuh: EP4J_COMMON_PARAMS):
 * where every rank's symmetric heap is in this process, this rank's call records, the heap's
 * size, the wait timeout, the rank and the group size. They are the same for every launch of a
 * buffer, which is what lets a CUDA graph replay a call.
 */
public record CommonParams(CStruct.Ptrs heap, CStruct.Ptr records, CStruct.I64 heapBytes, CStruct.I64 timeoutNs,
        CStruct.I32 rank, CStruct.I32 ranks) {

    /** Declares the common fields at the start of {@code b}. */
    static CommonParams declare(CStruct.Builder b) {
        return new CommonParams(b.ptrs("heap", MAX_RANKS), b.ptr("records"), b.i64("heap_bytes"), b.i64("timeout_ns"),
                b.i32("rank"), b.i32("ranks"));
    }

    /** What the common fields hold for one rank's buffer. */
    public record Values(long[] heaps, long records, long heapBytes, long timeoutNanos, int rank, int ranks) {
    }

    /** Writes {@code v} into {@code p}. */
    public Params fill(Params p, Values v) {
        return p.set(heap, v.heaps()).set(records, v.records()).set(heapBytes, v.heapBytes())
                .set(timeoutNs, v.timeoutNanos()).set(rank, v.rank()).set(ranks, v.ranks());
    }
}
