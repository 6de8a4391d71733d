// The count exchange as a launch of its own (exchange.cuh), one block, before ep4j_dispatch: the
// first launch of a dispatch op; ep4j_dispatch ends the op. ep4j_dispatch_bulk runs the exchange
// itself and needs no launch before it.
#pragma once
#include "exchange.cuh"

namespace ep4j {

__device__ __forceinline__ int warp_inclusive_scan(int v, int lane) {
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    int n = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += n;
  }
  return v;
}

}  // namespace ep4j

extern "C" __global__ void __launch_bounds__(ep4j::kNotifyThreads, 1) ep4j_notify(const __grid_constant__ ep4j::NotifyParams p) {
  using namespace ep4j;
  __shared__ int warp_sums[kMaxRanks][32];
  __shared__ int totals[kMaxRanks];
  __shared__ int offset_on[kMaxRanks];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int R = p.ranks, T = p.num_tokens;
  unsigned long long n;
  const Op op = op_begin(p, kOpNotify, &Control::notify_calls, n);
  const int chunk = (T + blockDim.x - 1) / blockDim.x;
  const int t0 = min(T, tid * chunk), t1 = min(T, t0 + chunk);

  int count[kMaxRanks];
#pragma unroll
  for (int d = 0; d < kMaxRanks; d++) count[d] = 0;
  for (int t = t0; t < t1; t++)
#pragma unroll
    for (int d = 0; d < kMaxRanks; d++)
      if (d < R) count[d] += p.is_token_in_rank[(long long)t * R + d];

  int excl[kMaxRanks];
#pragma unroll
  for (int d = 0; d < kMaxRanks; d++) {
    if (d >= R) break;
    int incl = warp_inclusive_scan(count[d], lane);
    if (lane == 31) warp_sums[d][warp] = incl;
    excl[d] = incl - count[d];
  }
  __syncthreads();
  if (warp == 0) {
    for (int d = 0; d < R; d++) {
      int v = lane < (int)(blockDim.x >> 5) ? warp_sums[d][lane] : 0;
      int incl = warp_inclusive_scan(v, lane);
      warp_sums[d][lane] = incl - v;
      if (lane == 31) totals[d] = incl;
    }
  }
  __syncthreads();
#pragma unroll
  for (int d = 0; d < kMaxRanks; d++)
    if (d < R) excl[d] += warp_sums[d][warp];

  // Publish this rank's row in every rank's mailbox, then read every rank's totals back.
  exchange_publish(p, totals, n);
  __shared__ int rows[kMaxRanks][kMaxRanks];
  if (!exchange_gather(p, op, n, rows)) {
    if (tid == 0) {
      op.ctrl->notify_calls = n;
      exchange_stamp(p, op);
    }
    return;
  }

  if (tid < R) offset_on[tid] = exchange_base(p, rows, tid);
  exchange_results(p, op, rows, n);
  __syncthreads();

  int next[kMaxRanks];
#pragma unroll
  for (int d = 0; d < kMaxRanks; d++)
    if (d < R) next[d] = offset_on[d] + excl[d];
  for (int t = t0; t < t1; t++)
#pragma unroll
    for (int d = 0; d < kMaxRanks; d++)
      if (d < R) {
        const long long i = (long long)t * R + d;
        const uint8_t in = p.is_token_in_rank[i];
        p.handle_in_rank[i] = in;
        p.send_row[i] = in ? next[d]++ : -1;
      }
  __syncthreads();
  if (tid == 0) {
    op.ctrl->notify_calls = n;
    exchange_stamp(p, op);
  }
}
