// Normal dispatch: each sender writes every token straight into its final row on each
// destination (positions fixed by ep4j_notify, or by a cached handle), then signals arrival.
// Blocks walk the destinations in a rotated order, so at any moment each block streams to one
// peer and different blocks load different links.
#pragma once
#include "common.cuh"

namespace ep4j {

constexpr int kDispatchThreads = 512;

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
  const bool skip = *(volatile int*)&p.error->code != 0;

  if (!skip) {
    const int per_block = (p.num_tokens + gridDim.x - 1) / gridDim.x;
    const int t0 = min(p.num_tokens, (int)blockIdx.x * per_block), t1 = min(p.num_tokens, t0 + per_block);
    for (int step = 0; step < R; step++) {
      const int d = (blockIdx.x + step) % R;
      uint8_t* const out_x = p.out_x[d];
      for (int t = t0 + warp; t < t1; t += warps) {
        const long long cell = (long long)t * R + d;
        if (!p.is_token_in_rank[cell]) continue;
        const long long row = p.send_row[cell];
        warp_copy_row(out_x + row * p.row_bytes, p.x + (long long)t * p.row_bytes, p.row_bytes, lane);
        if (p.scale_bytes) {
          const int* s = reinterpret_cast<const int*>(p.scales + (long long)t * p.scale_bytes);
          int* o = reinterpret_cast<int*>(p.out_scales[d] + row * p.scale_bytes);
          for (int i = lane; i < (p.scale_bytes >> 2); i += 32) o[i] = s[i];
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
  if (threadIdx.x < R) store_release_sys(p.signals[threadIdx.x] + signal_index(kDispatchArrive, p.rank), p.seq);
  if (threadIdx.x < R) wait_signal(p.signals[p.rank], kDispatchArrive, threadIdx.x, p.seq, p.timeout_ns, p.error, p.operation);
}
