// Normal dispatch: each sender writes every token straight into its final row on each
// destination (positions fixed by ep4j_notify, or by a cached handle), then signals arrival.
// Blocks walk the destinations in a rotated order, so at any moment each block streams to one
// peer and different blocks load different links.
#pragma once
#include "common.cuh"

namespace ep4j {

constexpr int kDispatchThreads = 512;
// Tokens per work item. Items are taken by warps from a counter: every peer's items first,
// interleaved across peers, then this rank's own (local HBM copies are fast and fill the end).
constexpr int kDispatchChunk = 8;

struct DispatchParams {
  int rank;
  int ranks;
  int num_tokens;
  int row_bytes;        // bytes of one x row
  int scale_bytes;      // bytes of one scales row, 0 without scales
  int topk;             // 0 without topk
  int idx_is_64;
  int local_experts;
  int worst_rows;       // > 0: fill rows [recv_total, worst_rows) of this rank's outputs
  int operation;
  int order;            // 0: peers' items first; 1: every destination interleaved
  const uint8_t* x;
  const uint8_t* scales;
  const void* topk_idx;
  const float* topk_weights;
  const uint8_t* is_token_in_rank;  // [T, R]
  const int* send_row;              // [T, R]
  const int* recv_total;            // this rank's received rows (worst mode tail fill)
  uint8_t* out_x[kMaxRanks];
  uint8_t* out_scales[kMaxRanks];
  void* out_idx[kMaxRanks];
  float* out_weights[kMaxRanks];
  int* out_source[kMaxRanks];
  unsigned long long* signals[kMaxRanks];
  unsigned int* block_counter;
  unsigned int* task_counter;
  unsigned long long seq;
  long long timeout_ns;
  ErrorRecord* error;
};

__device__ __forceinline__ void zero_rows(uint8_t* base, long long row_bytes, long long first, long long last,
                                          long long worker, long long workers) {
  int4* p = reinterpret_cast<int4*>(base + first * row_bytes);
  const long long n = (last - first) * row_bytes / 16;
  for (long long i = worker; i < n; i += workers) p[i] = make_int4(0, 0, 0, 0);
}

}  // namespace ep4j

extern "C" __global__ void __launch_bounds__(ep4j::kDispatchThreads) ep4j_dispatch(const __grid_constant__ ep4j::DispatchParams p) {
  using namespace ep4j;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const int R = p.ranks;
  // An earlier stage failed (overflow, timeout): write nothing, but still signal so that no
  // peer waits for us until its own timeout.
  const bool skip = block_sees_error(p.error);

  if (!skip) {
    const int chunks = (p.num_tokens + kDispatchChunk - 1) / kDispatchChunk;
    const int remote_tasks = (R - 1) * chunks;
    const int tasks = R * chunks;
    const bool vector_scales = (p.scale_bytes & 15) == 0;
    while (true) {
      int task = 0;
      if (lane == 0) task = (int)atomicAdd(p.task_counter, 1u);
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
      const int my_slot = __popc(sending & ((1u << lane) - 1));
      int slot_token = 0;
      long long slot_row = 0;
      for (int i = 0; i < count; i++) {
        const int row_i = __shfl_sync(0xffffffffu, my_row, i);
        if (row_i >= 0 && __popc(sending & ((1u << i) - 1)) == lane) {
          slot_token = t0 + i;
          slot_row = row_i;
        }
      }
      (void)my_slot;
      const int n = p.row_bytes >> 4;
      const int total = rows_in_item * n;
      const int4* xs = reinterpret_cast<const int4*>(p.x);
      int4* const out_x = reinterpret_cast<int4*>(p.out_x[d]);
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
          if (base + 32 * u < total) store_stream(out_x + to[u], v[u]);
      }
      for (int i = 0; i < rows_in_item; i++) {
        const int t = __shfl_sync(0xffffffffu, slot_token, i);
        const long long row = __shfl_sync(0xffffffffu, slot_row, i);
        if (p.scale_bytes) {
          if (vector_scales) {
            const int4* s = reinterpret_cast<const int4*>(p.scales + (long long)t * p.scale_bytes);
            int4* o = reinterpret_cast<int4*>(p.out_scales[d] + row * p.scale_bytes);
            for (int i4 = lane; i4 < (p.scale_bytes >> 4); i4 += 32) o[i4] = s[i4];
          } else {
            const int* s = reinterpret_cast<const int*>(p.scales + (long long)t * p.scale_bytes);
            int* o = reinterpret_cast<int*>(p.out_scales[d] + row * p.scale_bytes);
            for (int i1 = lane; i1 < (p.scale_bytes >> 2); i1 += 32) o[i1] = s[i1];
          }
        }
        if (p.topk && lane < p.topk) {
          const long long src = (long long)t * p.topk + lane, dst = row * p.topk + lane;
          const long long e = p.idx_is_64 ? reinterpret_cast<const long long*>(p.topk_idx)[src]
                                          : reinterpret_cast<const int*>(p.topk_idx)[src];
          const long long first = (long long)d * p.local_experts;
          const bool here = e >= first && e < first + p.local_experts;
          const long long local = here ? e - first : -1;
          if (p.idx_is_64) reinterpret_cast<long long*>(p.out_idx[d])[dst] = local;
          else reinterpret_cast<int*>(p.out_idx[d])[dst] = (int)local;
          if (p.out_weights[d]) p.out_weights[d][dst] = here ? p.topk_weights[src] : 0.0f;
        }
        if (lane == 0) p.out_source[d][row] = t;
      }
    }
    if (p.worst_rows > 0) {
      // Rows nobody sends to us: zeros, expert -1, weight 0, source -1 (DESIGN 2.2).
      const long long first = *p.recv_total, last = p.worst_rows;
      if (first < last) {
        const long long worker = (long long)blockIdx.x * blockDim.x + threadIdx.x;
        const long long workers = (long long)gridDim.x * blockDim.x;
        zero_rows(p.out_x[p.rank], p.row_bytes, first, last, worker, workers);
        if (p.scale_bytes) zero_rows(p.out_scales[p.rank], p.scale_bytes, first, last, worker, workers);
        for (long long r = first + worker; r < last; r += workers) {
          p.out_source[p.rank][r] = -1;
          for (int k = 0; k < p.topk; k++) {
            if (p.idx_is_64) reinterpret_cast<long long*>(p.out_idx[p.rank])[r * p.topk + k] = -1;
            else reinterpret_cast<int*>(p.out_idx[p.rank])[r * p.topk + k] = -1;
            if (p.out_weights[p.rank]) p.out_weights[p.rank][r * p.topk + k] = 0.0f;
          }
        }
      }
    }
  }

  if (!last_block_done(p.block_counter)) return;
  if (threadIdx.x == 0) *p.task_counter = 0;  // every warp has finished taking items
  if (threadIdx.x < R) store_release_sys(p.signals[threadIdx.x] + signal_index(kDispatchArrive, p.rank), p.seq);
  if (threadIdx.x < R) wait_signal(p.signals[p.rank], kDispatchArrive, threadIdx.x, p.seq, p.timeout_ns, p.error, p.operation);
}
