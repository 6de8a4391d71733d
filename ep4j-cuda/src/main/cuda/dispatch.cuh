// Normal dispatch: each sender writes every token straight into its final row in each
// destination's heap (this call's slot; positions fixed by the count exchange, or by a cached
// handle), then signals arrival. The last launch of a dispatch op.
// Two kernels share the parameters and the row metadata code: ep4j_dispatch_bulk (rows staged
// in shared memory and sent with bulk copies, the default; it runs the count exchange itself)
// and ep4j_dispatch (16-byte copies by the lanes, for rows too large for the bulk kernel's ring;
// ep4j_notify runs the exchange before it).
#pragma once
#include "bulk.cuh"
#include "exchange.cuh"

namespace ep4j {

// Tokens per work item. Items are taken by warps from a counter: every peer's items first,
// interleaved across peers, then this rank's own (local HBM copies are fast and fill the end).
constexpr int kDispatchChunk = 8;

// This call's output arrays in destination d's heap.
__device__ __forceinline__ uint8_t* out_x(const DispatchParams& p, int d) { return p.heap[d] + p.o_x; }
__device__ __forceinline__ uint8_t* out_scales(const DispatchParams& p, int d) { return p.heap[d] + p.o_scales; }
__device__ __forceinline__ void* out_idx(const DispatchParams& p, int d) { return p.heap[d] + p.o_idx; }
__device__ __forceinline__ float* out_weights(const DispatchParams& p, int d) {
  return p.o_weights < 0 ? nullptr : reinterpret_cast<float*>(p.heap[d] + p.o_weights);
}
__device__ __forceinline__ int* out_source(const DispatchParams& p, int d) {
  return reinterpret_cast<int*>(p.heap[d] + p.o_source);
}

// Zeroes rows [first, last) of `row_bytes` bytes each at `base` (16-byte aligned). A row size
// that is no multiple of 16 (the fp8 scales of hidden 768 are 24 bytes) leaves the range's ends
// unaligned: bytes there, 16-byte stores in the aligned middle. Every thread of the grid takes part.
__device__ __forceinline__ void zero_rows(uint8_t* base, long long row_bytes, long long first, long long last,
                                          long long worker, long long workers) {
  const long long begin = first * row_bytes, end = last * row_bytes;
  const long long mid_begin = min((begin + 15) & ~15LL, end), mid_end = max(end & ~15LL, mid_begin);
  for (long long i = begin + worker; i < mid_begin; i += workers) base[i] = 0;
  for (long long i = mid_end + worker; i < end; i += workers) base[i] = 0;
  int4* mid = reinterpret_cast<int4*>(base + mid_begin);
  const long long n = (mid_end - mid_begin) / 16;
  for (long long i = worker; i < n; i += workers) mid[i] = make_int4(0, 0, 0, 0);
}

// Top-k slot k of received row `row` on rank d: the expert translated to d's local experts
// (-1 when it lives elsewhere) and its weight where kept, else 0.
__device__ __forceinline__ void write_slot(const DispatchParams& p, int d, long long row, int k, long long expert,
                                           float weight) {
  const long long first = (long long)d * p.local_experts;
  const bool here = expert >= first && expert < first + p.local_experts;
  const long long dst = row * p.topk + k;
  if (p.idx_is_64) reinterpret_cast<long long*>(out_idx(p, d))[dst] = here ? expert - first : -1;
  else reinterpret_cast<int*>(out_idx(p, d))[dst] = here ? (int)(expert - first) : -1;
  float* w = out_weights(p, d);
  if (w) w[dst] = here ? weight : 0.0f;
}

// A row's scales, by the lanes of one warp (16-byte pieces when the row allows).
__device__ __forceinline__ void copy_scales(const DispatchParams& p, int d, int t, long long row, int lane) {
  if ((p.scale_bytes & 15) == 0) {
    const int4* s = reinterpret_cast<const int4*>(p.scales + (long long)t * p.scale_bytes);
    int4* o = reinterpret_cast<int4*>(out_scales(p, d) + row * p.scale_bytes);
    for (int i = lane; i < (p.scale_bytes >> 4); i += 32) o[i] = s[i];
  } else {
    const int* s = reinterpret_cast<const int*>(p.scales + (long long)t * p.scale_bytes);
    int* o = reinterpret_cast<int*>(out_scales(p, d) + row * p.scale_bytes);
    for (int i = lane; i < (p.scale_bytes >> 2); i += 32) o[i] = s[i];
  }
}

// Everything of a received row except x: its scales, its top-k slots translated to the
// destination's local experts (-1 elsewhere) with their weights, and its source token. One warp.
__device__ __forceinline__ void write_row_meta(const DispatchParams& p, int d, int t, long long row, int lane) {
  if (p.scale_bytes) copy_scales(p, d, t, row, lane);
  for (int k = lane; k < p.topk; k += 32) {
    const long long src = (long long)t * p.topk + k;
    write_slot(p, d, row, k, topk_at(p.topk_idx, p.idx_is_64, src), p.topk_weights ? p.topk_weights[src] : 0.0f);
  }
  if (lane == 0) out_source(p, d)[row] = t;
}

// Worst-sized outputs: the rows nobody sends to us hold zeros, expert -1, weight 0 and source -1
// (DESIGN 2.2). Every thread of the grid takes part.
__device__ __forceinline__ void fill_unused_rows(const DispatchParams& p, long long first) {
  const long long last = p.worst_rows;
  if (first >= last) return;
  const long long worker = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long workers = (long long)gridDim.x * blockDim.x;
  zero_rows(out_x(p, p.rank), p.row_bytes, first, last, worker, workers);
  if (p.scale_bytes) zero_rows(out_scales(p, p.rank), p.scale_bytes, first, last, worker, workers);
  float* w = out_weights(p, p.rank);
  for (long long r = first + worker; r < last; r += workers) {
    out_source(p, p.rank)[r] = -1;
    for (int k = 0; k < p.topk; k++) {
      if (p.idx_is_64) reinterpret_cast<long long*>(out_idx(p, p.rank))[r * p.topk + k] = -1;
      else reinterpret_cast<int*>(out_idx(p, p.rank))[r * p.topk + k] = -1;
      if (w) w[r * p.topk + k] = 0.0f;
    }
  }
}

// The start of the copy: this op's number, the dispatch's call number n and, when the launch runs
// the count exchange, the exchange's nx; for a cached dispatch (no count exchange), a barrier:
// every receiver must have reached this call before a sender writes into its slot. (The exchange
// is that barrier for the others.) Whether the block may write (no failure so far).
__device__ __forceinline__ bool dispatch_begin(const DispatchParams& p, Op& op, unsigned long long& n,
                                               unsigned long long& nx) {
  Control* c = my_control(p);
  const Words w = block_load_words(&c->ops, &c->dispatch_calls, p.exchange ? &c->notify_calls : nullptr);
  op = op_at(p, w.v[0], kOpDispatch);
  n = w.v[1] + 1;
  nx = w.v[2] + 1;
  if (p.cached) {
    if (blockIdx.x == 0 && threadIdx.x < p.ranks)
      signal_peer(control_of(p, threadIdx.x)->dispatch_ready, p.rank, signal_value(op, n));
    if (!block_wait_all(op, op.ctrl->dispatch_ready, n, p.ranks, kWaitDispatchReady, p.timeout_ns)) return false;
  }
  // An earlier stage failed (count exchange, overflow, a peer): write nothing, but still
  // signal (poisoned) so that no peer waits for us until its own timeout.
  return !block_sees_failure(op);
}

// The end of a dispatch: every block tells every destination that its rows are in place by
// adding its share of kArrivalShares to this rank's arrival count there (after a system fence:
// the rows went to peers; the barrier orders the block's other threads' writes before it),
// first naming call n in this rank's poison word there when the op failed here. Block 0 then
// waits until every source's count, its own included, says call n is complete, so the op ends
// only with the whole output written. No block waits for a last one's ticket and its second
// fence before the signals leave.
__device__ __forceinline__ void dispatch_end(const DispatchParams& p, const Op& op, unsigned long long n,
                                             unsigned long long nx) {
  __syncthreads();
  if (threadIdx.x < p.ranks) {
    Control* peer = control_of(p, threadIdx.x);
    if (op_failed(op)) *reinterpret_cast<volatile unsigned long long*>(peer->dispatch_poison + p.rank) = n;
    __threadfence_system();
    add_relaxed_sys(peer->dispatch_arrive + p.rank, arrival_share(blockIdx.x, gridDim.x));
  }
  if (blockIdx.x != 0) return;
  if (threadIdx.x < p.ranks)
    wait_count(op, op.ctrl->dispatch_arrive + threadIdx.x, op.ctrl->dispatch_poison + threadIdx.x, n, (int)kArrivalShares,
               threadIdx.x, kWaitDispatchArrival, p.timeout_ns);
  __syncthreads();
  if (threadIdx.x == 0) {
    op.ctrl->task_counter[0] = 0;  // every block has arrived: every warp has finished taking items
    op.ctrl->dispatch_calls = n;
    if (p.exchange) op.ctrl->notify_calls = nx;  // read at every block's start: advanced last
    op_end(op);
  }
}

}  // namespace ep4j

extern "C" __global__ void __launch_bounds__(ep4j::kDispatchThreads) ep4j_dispatch(const __grid_constant__ ep4j::DispatchParams p) {
  using namespace ep4j;
  const int lane = threadIdx.x & 31;
  const int R = p.ranks;
  Op op;
  unsigned long long n, nx;
  if (dispatch_begin(p, op, n, nx)) {
    const int chunks = (p.num_tokens + kDispatchChunk - 1) / kDispatchChunk;
    const int remote_tasks = (R - 1) * chunks;
    const int tasks = R * chunks;
    while (true) {
      int task = 0;
      if (lane == 0) task = (int)atomicAdd(&op.ctrl->task_counter[0], 1u);
      task = __shfl_sync(0xffffffffu, task, 0);
      if (task >= tasks) break;
      int d, chunk;
      if (p.order == 1) {
        d = (p.rank + 1 + task % R) % R;
        chunk = task / R;
      } else if (task < remote_tasks) {
        d = (p.rank + 1 + task % (R - 1)) % R;
        chunk = task / (R - 1);
      } else {
        d = p.rank;
        chunk = task - remote_tasks;
      }
      const int t0 = chunk * kDispatchChunk;
      const int count = min(kDispatchChunk, p.num_tokens - t0);
      // The rows of the whole item, loaded at once: lane i holds token t0 + i.
      const int my_row = lane < count ? p.send_row[(long long)(t0 + lane) * R + d] : -1;
      // Compact the item's rows that go to d, so the copy below streams them back to back.
      const unsigned sending = __ballot_sync(0xffffffffu, my_row >= 0);
      const int rows_in_item = __popc(sending);
      int slot_token = 0;
      long long slot_row = 0;
      for (int i = 0; i < count; i++) {
        const int row_i = __shfl_sync(0xffffffffu, my_row, i);
        if (row_i >= 0 && __popc(sending & ((1u << i) - 1)) == lane) {
          slot_token = t0 + i;
          slot_row = row_i;
        }
      }
      const int n = p.row_bytes >> 4;
      const int total = rows_in_item * n;
      const int4* xs = reinterpret_cast<const int4*>(p.x);
      int4* const out = reinterpret_cast<int4*>(out_x(p, d));
      // Eight 16-byte loads in flight per lane across the rows of the item, then their stores.
      for (int base = lane; base < total; base += 32 * 8) {
        int4 v[8];
        long long to[8];
#pragma unroll
        for (int u = 0; u < 8; u++) {
          const int k = base + 32 * u;
          const int slot = k / n;
          const int c = k - slot * n;
          const int tok = __shfl_sync(0xffffffffu, slot_token, slot & 31);
          const long long row = __shfl_sync(0xffffffffu, slot_row, slot & 31);
          to[u] = row * n + c;
          if (k < total) v[u] = load_stream(xs + (long long)tok * n + c);
        }
#pragma unroll
        for (int u = 0; u < 8; u++)
          if (base + 32 * u < total) store_stream(out + to[u], v[u]);
      }
      for (int i = 0; i < rows_in_item; i++)
        write_row_meta(p, d, __shfl_sync(0xffffffffu, slot_token, i), __shfl_sync(0xffffffffu, slot_row, i), lane);
    }
    if (p.worst_rows > 0) fill_unused_rows(p, *p.recv_total);
  }

  dispatch_end(p, op, n, nx);
}

namespace ep4j {

// Waits until at most `pending` (0..4) bulk groups still read shared memory.
__device__ __forceinline__ void bulk_wait_read_at_most(int pending) {
  switch (pending) {
    case 0: bulk_wait_read<0>(); break;
    case 1: bulk_wait_read<1>(); break;
    case 2: bulk_wait_read<2>(); break;
    case 3: bulk_wait_read<3>(); break;
    default: bulk_wait_read<4>(); break;
  }
}

// What a warp's lanes hold of one token besides its rows: lane j < R its row on rank j (or -1),
// lane k its k-th expert and weight for the first 32 slots. Loaded one token ahead, so no load
// waits in the loop; slots from 32 on (top-k up to kMaxTopk) are read where they are used.
struct TokenRouting {
  int row;
  long long expert;
  float weight;
};

__device__ __forceinline__ TokenRouting load_routing(const DispatchParams& p, int t, int lane) {
  TokenRouting r{-1, -1, 0.0f};
  if (t < 0) return r;
  if (lane < p.ranks) r.row = p.send_row[(long long)t * p.ranks + lane];
  if (lane < p.topk) {
    const long long src = (long long)t * p.topk + lane;
    r.expert = p.idx_is_64 ? reinterpret_cast<const long long*>(p.topk_idx)[src]
                           : reinterpret_cast<const int*>(p.topk_idx)[src];
    if (p.topk_weights) r.weight = p.topk_weights[src];
  }
  return r;
}

}  // namespace ep4j

// Normal dispatch with bulk copies. Each warp owns a ring of shared-memory slots (an x row,
// and its scales when they are whole 16-byte pieces): it loads a token once from local HBM,
// then one lane sends it to every destination with one bulk store per piece (whole rows, so
// the links see long writes, never 16-byte interleaving) while the other lanes write the
// translated top-k slots and the source index from registers. A warp's tokens are contiguous
// (warp_tokens), which lets the blocks run the count exchange themselves (p.exchange,
// exchange.cuh) while the first rows load. The host sizes the ring (dynamic shared memory) and
// picks the plain kernel above when a row is too large for two slots.
extern "C" __global__ void __launch_bounds__(ep4j::kBulkDispatchMaxWarps * 32)
    ep4j_dispatch_bulk(const __grid_constant__ ep4j::DispatchParams p) {
  using namespace ep4j;
  extern __shared__ __align__(128) uint8_t rings[];
  __shared__ uint64_t slot_full[kBulkDispatchMaxWarps][kBulkDispatchMaxStages];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const int R = p.ranks;
  Op op;
  unsigned long long n, nx;
  if (dispatch_begin(p, op, n, nx)) {
    const bool bulk_scales = p.scale_bytes > 0 && (p.scale_bytes & 15) == 0;
    const uint32_t row_bytes = (uint32_t)p.row_bytes, scale_bytes = (uint32_t)p.scale_bytes;
    const int x_stride = (p.row_bytes + 127) & ~127;
    const int stride = x_stride + (bulk_scales ? (p.scale_bytes + 127) & ~127 : 0);
    const int stages = min(kBulkDispatchMaxStages, (int)(dynamic_shared_bytes() / (warps * stride)));
    // Tokens whose stores may still read their slot while this warp moves on: about half the
    // ring; the other half holds loads in flight.
    const int lag = min(4, max(1, stages / 2));
    uint8_t* ring = rings + (long long)warp * stages * stride;
    uint64_t* full = slot_full[warp];
    if (lane == 0) {
      for (int s = 0; s < stages; s++) barrier_init(&full[s], 1);
      barrier_init_fence();
    }
    __syncwarp();

    const TokenRange tokens = warp_tokens(p.num_tokens, warp, warps);
    const int mine = tokens.end - tokens.begin;
    auto token = [&](int i) { return tokens.begin + i; };
    auto load = [&](int i) {
      const int s = i % stages;
      const long long t = token(i);
      uint8_t* slot = ring + (long long)s * stride;
      barrier_expect_bytes(&full[s], row_bytes + (bulk_scales ? scale_bytes : 0u));
      bulk_load(slot, p.x + t * row_bytes, row_bytes, &full[s]);
      if (bulk_scales) bulk_load(slot + x_stride, p.scales + t * scale_bytes, scale_bytes, &full[s]);
    };
    if (lane == 0)
      for (int i = 0; i < min(stages, mine); i++) load(i);
    int total = 0;  // rows this rank receives (the tail of a worst-sized output is filled from there)
    const bool go = p.exchange ? dispatch_exchange(p, op, nx, total) : true;
    if (!p.exchange && p.worst_rows > 0) total = *p.recv_total;
    if (!go) {  // the rows in flight land before the block ends; nothing is sent
      if (lane == 0)
        for (int i = 0; i < min(stages, mine); i++) barrier_wait(&full[i], 0u);
      __syncwarp();
    }

    TokenRouting next = load_routing(p, go && mine > 0 ? token(0) : -1, lane);
    for (int i = 0; go && i < mine; i++) {
      const int t = token(i);
      const int s = i % stages;
      const TokenRouting cur = next;
      next = load_routing(p, i + 1 < mine ? token(i + 1) : -1, lane);
      const uint8_t* slot = ring + (long long)s * stride;
      barrier_wait(&full[s], (uint32_t)(i / stages) & 1u);
      // Destinations in a rotated order, so that the warps of the grid spread over the links.
      for (int k = 0; k < R; k++) {
        const int d = (p.rank + 1 + k + t) % R;
        const int row = __shfl_sync(0xffffffffu, cur.row, d);
        if (row < 0) continue;
        if (lane == 0) {
          bulk_store(out_x(p, d) + (long long)row * row_bytes, slot, row_bytes);
          if (bulk_scales) bulk_store(out_scales(p, d) + (long long)row * scale_bytes, slot + x_stride, scale_bytes);
          out_source(p, d)[row] = t;
        }
        if (p.scale_bytes && !bulk_scales) copy_scales(p, d, t, row, lane);
        if (lane < p.topk) write_slot(p, d, row, lane, cur.expert, cur.weight);
        for (int k = lane + 32; k < p.topk; k += 32) {
          const long long src = (long long)t * p.topk + k;
          write_slot(p, d, row, k, topk_at(p.topk_idx, p.idx_is_64, src), p.topk_weights ? p.topk_weights[src] : 0.0f);
        }
      }
      if (lane == 0) {
        bulk_commit();
        // Once token i - lag's stores have read its slot, refill the slot with the token that
        // comes `stages` later.
        const int freed = i - lag;
        if (freed >= 0 && freed + stages < mine) {
          bulk_wait_read_at_most(lag);
          load(freed + stages);
        }
      }
      __syncwarp();
    }
    // Every row has landed before the block arrives at its destinations (dispatch_end's fence
    // then covers them: the barrier before it orders lane 0's view of the bulk writes first).
    if (lane == 0) bulk_wait_all();
    if (go && p.worst_rows > 0) fill_unused_rows(p, total);
  }

  dispatch_end(p, op, n, nx);
}
