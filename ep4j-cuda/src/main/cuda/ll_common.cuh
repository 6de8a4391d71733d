// Low-latency (decoding) calls, shared parts (DESIGN 2.4-2.7): the per-slot memory, the
// signal protocol, prefix sums, FP8. ll_dispatch.cuh and ll_combine.cuh hold the two calls.
//
// Every rank's symmetric heap holds, per slot (two alternate; offsets of the call's slot):
//   data  [R][N] rows of row_stride bytes: token t of source j lands at row (j, t), once per
//         destination rank however many of its experts live there (bf16 row, or fp8 q + scales);
//   hdr   [R][N][Kmax] int2, row (j, t)'s header: slot k holds (le, pos) when top-k slot k of
//         token t is the first to name local expert le of this rank, pos the token's place among
//         source j's tokens of le (ascending); (-1, -1) otherwise. Complete for every t < T_j;
//   cnt   [L][R] int32: how many tokens source j sends to local expert le; then [R] int32, source
//         j's T_j | K_j << kLlTokenBits;
//   creg  [N][Kmax] bf16 rows: the expert output of (token, firstK) sent back by combine.
// Control words (Control, control.cuh), per slot s and rank j:
//   ll_dispatch_data[s][j] in a receiver: how many of j's send blocks have put their rows of
//     slot s in place, over all calls (send_blocks per call: call n is complete at n * blocks);
//   ll_dispatch_poison[s][j] next to it: the last call of j's on slot s that failed there;
//   ll_dispatch_free[s][j] in a sender: j has finished receiving its call n on slot s (a call
//     number), so the sender may overwrite j's slot with call n + 1;
//   ll_combine_* the same for combine.
// The counters that number the calls (ll_dispatch_sent[s], ...) advance in the kernels, so a
// graph replays a call with the same parameters. A launch runs the send half, the receive half
// or both (LlPhase): without a hook one launch does it all; with a hook the send launch returns
// at once and the receive launch comes when the user asks for it, holding no SM in between.
// The receive half packs rows in a deterministic order: (local expert, source rank, token).
#pragma once
#include <cuda_fp8.h>
#include "control.cuh"

namespace ep4j {

constexpr int kLlWarps = kLlThreads / 32;
constexpr int kLlTokenMask = (1 << kLlTokenBits) - 1;
constexpr int kLlPartChannels = 512;  // one warp unit: 512 channels = 4 fp8 blocks = one UE8M0 int
// One warp unit of a row copy: 4 KiB, eight 16-byte loads per lane issued before the first store,
// so a warp waits for memory once per unit instead of once per 512 bytes.
constexpr int kLlChunkBytes = 4096;
constexpr int kLlChunkLoads = kLlChunkBytes / (32 * 16);
// One warp unit of the dispatch's receive half: 1 KiB of a delivered row, two 16-byte pieces per
// lane, so that at 128 tokens every warp has about one unit and copies it to all its places.
constexpr int kLlPackBytes = 1024;

// Top-k slots the dispatch's send half stages in shared memory (beyond that it reads them from
// global memory).
constexpr int kLlStagedTopk = 8192;

// Shared memory of a low-latency launch: the dispatch send half's staged top-k, or a receive
// half's prefix sums (a launch that runs both uses them one after the other).
union LlShared {
  int topk[kLlStagedTopk];
  int off[kLlMaxExperts + 1];
};

// Where a traced launch (LlParams::trace, LlTrace.java) stamps %globaltimer, by thread 0 of every
// block; points a block does not reach stay 0. Only the last block reaches kLlAllSent and later.
enum LlTracePoint : int {
  kLlEntry = 0,
  kLlFreeSeen = 1,      // send: the receivers released our previous call on this slot
  kLlListed = 2,        // dispatch send: header places and counts written (thread 0's experts)
  kLlRowsSent = 3,      // send: this block's rows written
  kLlAllSent = 4,       // send: every block has counted its rows in at the destinations (last block)
  kLlDataSeen = 5,      // receive: every source signalled its rows
  kLlScanned = 6,       // receive: prefix sums done
  kLlRowsDone = 7,      // receive: this block's rows packed (dispatch) or summed (combine)
  kLlAllDone = 8,       // receive: every block done (last block)
  kLlEnd = 9,           // the op's stamp written (last block)
  kLlWaitBegins = 10,   // send: control words read, the wait for a free slot begins
  kLlStaged = 11,       // send: thread 32's share of the early work (staging, checks) done
};

__device__ __forceinline__ void ll_trace(const LlParams& p, LlTracePoint at, unsigned int thread = 0) {
  if (p.trace != nullptr && threadIdx.x == thread) p.trace[blockIdx.x * kLlTracePoints + at] = global_timer_ns();
}

// The first unit of this warp's share of a grid-wide loop (later ones every gridDim.x * kLlWarps):
// units are dealt across the blocks first, so that every SM gets some when there are about as
// many units as warps (128 tokens: 1792 units for 2112 warps, which dealt block by block left
// 20 SMs without any).
__device__ __forceinline__ long long ll_warp_unit() {
  return (long long)(threadIdx.x >> 5) * gridDim.x + blockIdx.x;
}

// Word [0] of slot s's line of a per-slot signal array.
__device__ __forceinline__ unsigned long long* ll_line(unsigned long long* lines, int slot) {
  return lines + slot * kSignalLine;
}

__device__ __forceinline__ long long ll_topk(const LlParams& p, long long i) {
  return p.topk64 ? static_cast<const long long*>(p.topk_idx)[i] : (long long)static_cast<const int*>(p.topk_idx)[i];
}

// Exclusive prefix sums of n <= kLlMaxExperts ints (read once each by `get`) into s_off[0..n]
// (s_off[n] = total), by one block of kLlThreads: each thread sums a contiguous run, held in
// registers, then a shuffle scan over the runs.
template <typename Get>
__device__ __forceinline__ void ll_block_scan(int n, int* s_off, Get get) {
  constexpr int kPer = kLlMaxExperts / kLlThreads;
  static_assert(kPer * kLlThreads == kLlMaxExperts, "a thread's run fits its registers");
  __shared__ int s_warp[kLlWarps];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int per = (n + kLlThreads - 1) / kLlThreads;
  const int begin = threadIdx.x * per;
  int v[kPer];
#pragma unroll
  for (int i = 0; i < kPer; i++) v[i] = i < per && begin + i < n ? get(begin + i) : 0;
  int sum = 0;
#pragma unroll
  for (int i = 0; i < kPer; i++) sum += v[i];
  int incl = sum;
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    const int v = __shfl_up_sync(0xffffffffu, incl, d);
    if (lane >= d) incl += v;
  }
  if (lane == 31) s_warp[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    const int w = lane < kLlWarps ? s_warp[lane] : 0;
    int wi = w;
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const int v = __shfl_up_sync(0xffffffffu, wi, d);
      if (lane >= d) wi += v;
    }
    if (lane < kLlWarps) s_warp[lane] = wi - w;
    if (lane == kLlWarps - 1) s_off[n] = wi;
  }
  __syncthreads();
  int acc = s_warp[warp] + incl - sum;
#pragma unroll
  for (int i = 0; i < kPer; i++)
    if (i < per && begin + i < n) {
      s_off[begin + i] = acc;
      acc += v[i];
    }
  __syncthreads();
}

// The largest i in [0, n) with s_off[i] <= v (s_off ascending, s_off[0] = 0 <= v).
__device__ __forceinline__ int ll_find(const int* s_off, int n, int v) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (s_off[mid] <= v) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// One warp copies n16 (<= kLlChunkBytes / 16) 16-byte pieces from src to dst: every load is in
// flight before the first store. Load is load_stream (inputs no kernel writes) or
// load_volatile_peer (rows a peer delivered in this call).
template <typename Load>
__device__ __forceinline__ void ll_copy_chunk(uint8_t* dst, const uint8_t* src, int n16, int lane, Load load) {
  const int4* s = reinterpret_cast<const int4*>(src);
  int4* d = reinterpret_cast<int4*>(dst);
  int4 v[kLlChunkLoads];
#pragma unroll
  for (int u = 0; u < kLlChunkLoads; u++)
    if (lane + 32 * u < n16) v[u] = load(s + lane + 32 * u);
#pragma unroll
  for (int u = 0; u < kLlChunkLoads; u++)
    if (lane + 32 * u < n16) store_stream(d + lane + 32 * u, v[u]);
}

// ------------------------------------------------------------------------------ a call's frame

// The control words of one kind of low-latency call (Control::ll_<kind>_*); the two calls differ
// in nothing else at the ends of their halves (ll_send_end, ll_receive_end) and in their launch
// (ll_launch).
#define EP4J_LL_WORDS(Name, kind, operation)                                                                 \
  struct Name {                                                                                             \
    static constexpr int kOperation = operation;                                                            \
    static __device__ __forceinline__ unsigned long long* data(Control* c) { return c->ll_##kind##_data; }  \
    static __device__ __forceinline__ unsigned long long* poison(Control* c) { return c->ll_##kind##_poison; } \
    static __device__ __forceinline__ unsigned long long* free(Control* c) { return c->ll_##kind##_free; }  \
    static __device__ __forceinline__ unsigned long long* sent(Control* c) { return c->ll_##kind##_sent; }  \
    static __device__ __forceinline__ unsigned long long* received(Control* c) {                            \
      return c->ll_##kind##_received;                                                                       \
    }                                                                                                       \
    static __device__ __forceinline__ unsigned long long* op(Control* c) { return c->ll_##kind##_op; }      \
  };
EP4J_LL_WORDS(LlDispatchWords, dispatch, kOpLlDispatch)
EP4J_LL_WORDS(LlCombineWords, combine, kOpLlCombine)
#undef EP4J_LL_WORDS

// Whether every source's send half of call n arrived unpoisoned (threads [0, R) wait, one per
// source; block-uniform).
template <class W>
__device__ __forceinline__ bool ll_wait_data(const LlParams& p, const Op& op, unsigned long long n, int wait) {
  __shared__ int ok;
  if (threadIdx.x == 0) ok = 1;
  __syncthreads();
  if (threadIdx.x < p.ranks) {
    const int j = threadIdx.x;
    if (!wait_count(op, ll_line(W::data(op.ctrl), p.slot) + j, ll_line(W::poison(op.ctrl), p.slot) + j, n,
                    p.send_blocks, j, wait, p.timeout_ns))
      ok = 0;
  }
  __syncthreads();
  return ok != 0;
}

// The end of a send half: every block tells every destination that its rows of call n are in
// place, by adding one to this rank's count there (after a system fence: the rows went to peers;
// the barrier orders the block's other threads' writes before it), first naming call n in this
// rank's poison word there when the op failed here. A receiver waits for send_blocks arrivals
// per call (wait_count), so no block waits for the others. The last block records the call.
template <class W>
__device__ __forceinline__ void ll_send_end(const LlParams& p, const Op& op, unsigned long long n) {
  ll_trace(p, kLlRowsSent);
  __syncthreads();
  if (threadIdx.x < p.ranks) {
    Control* peer = control_of(p, threadIdx.x);
    if (op_failed(op)) *reinterpret_cast<volatile unsigned long long*>(ll_line(W::poison(peer), p.slot) + p.rank) = n;
    __threadfence_system();
    add_relaxed_sys(ll_line(W::data(peer), p.slot) + p.rank, 1);
  }
  if (!last_block_done(&op.ctrl->block_counter[2], false)) return;
  ll_trace(p, kLlAllSent);
  if (threadIdx.x == 0) {
    W::sent(op.ctrl)[p.slot] = n;
    if (p.phase == kLlSend) {  // the receive launch ends the op; later ops take the next numbers
      W::op(op.ctrl)[p.slot] = op.index;
      op.ctrl->ops = op.index + 1;
    }
  }
}

// The end of a receive half: every block is done reading this slot, so the last one tells the
// senders they may reuse it (also after a failure, poisoned, so that they do not wait on us in
// vain) and ends the op. The blocks only read peer data and wrote local memory: a GPU-scope fence.
// Warp 1 frees the slot while thread 0 ends the op: the host needs the outputs (fenced), not the
// signals, so neither waits for the other.
template <class W>
__device__ __forceinline__ void ll_receive_end(const LlParams& p, const Op& op, unsigned long long n) {
  ll_trace(p, kLlRowsDone);
  if (!last_block_done(&op.ctrl->block_counter[0], false)) return;
  ll_trace(p, kLlAllDone);
  const int peer = (int)threadIdx.x - 32;
  if (peer >= 0 && peer < p.ranks)
    signal_peer(ll_line(W::free(control_of(p, peer)), p.slot), p.rank, signal_value(op, n));
  if (threadIdx.x == 0) {
    W::received(op.ctrl)[p.slot] = n;
    if (p.phase == kLlSendAndReceive) op.ctrl->ops = op.index + 1;
    op_complete(op);
  }
  ll_trace(p, kLlEnd);
}

// A launch of either call: reads every number it needs before any block can advance it, then
// runs the halves its phase names (send(op, n) and receive(op, n), n the call's number there).
template <class W, typename Send, typename Receive>
__device__ __forceinline__ void ll_launch(const LlParams& p, Send send, Receive receive) {
  ll_trace(p, kLlEntry);
  Control* ctrl = my_control(p);
  const Words w = block_load_words(&W::sent(ctrl)[p.slot], &W::received(ctrl)[p.slot],
                                   p.phase == kLlReceive ? &W::op(ctrl)[p.slot] : &ctrl->ops);
  const Op op = op_at(p, w.v[2], W::kOperation);
  if (p.phase != kLlReceive) send(op, w.v[0] + 1);
  __syncthreads();
  if (p.phase != kLlSend) receive(op, w.v[1] + 1);
}

// ------------------------------------------------------------------------------ FP8 (DESIGN 2.6)

__device__ __forceinline__ float ll_ceil_pow2(float v) {
  const unsigned int bits = __float_as_uint(v);
  const unsigned int exponent = bits >> 23;
  const unsigned int mantissa = bits & 0x7FFFFFu;
  if (exponent == 0xFFu || mantissa == 0u) return v;
  if (exponent == 0u) {
    const unsigned int top = 1u << (31 - __clz(mantissa));
    return __uint_as_float(top == mantissa ? mantissa : top << 1);
  }
  return __uint_as_float((exponent + 1u) << 23);
}

// E4M3 of two floats: round to nearest even, saturating (cvt.rn.satfinite); any NaN gives 0x7F.
__device__ __forceinline__ unsigned int ll_e4m3x2(float a, float b) {
  unsigned int q = (unsigned int)__nv_cvt_float2_to_fp8x2(make_float2(a, b), __NV_SATFINITE, __NV_E4M3);
  if (a != a) q = (q & 0xFF00u) | 0x7Fu;
  if (b != b) q = (q & 0x00FFu) | 0x7F00u;
  return q;
}

__device__ __forceinline__ float ll_bf16_lo(unsigned int w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float ll_bf16_hi(unsigned int w) { return __uint_as_float(w & 0xFFFF0000u); }


}  // namespace ep4j
