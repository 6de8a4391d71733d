// Count exchange before a normal dispatch: every rank learns how many rows each rank sends to
// each other rank (and per expert), which fixes every row's final position without atomics, so
// the received order is the one DESIGN 2.2 prescribes (source rank, then source token). The
// first launch of a dispatch op; ep4j_dispatch ends the op.
#pragma once
#include "control.cuh"

namespace ep4j {

// A mailbox row: tokens to each rank, then tokens per (global) expert.
constexpr int kMailboxRow = kMaxRanks + kMaxExperts;

__device__ __forceinline__ int warp_inclusive_scan(int v, int lane) {
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    int n = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += n;
  }
  return v;
}

}  // namespace ep4j

extern "C" __global__ void __launch_bounds__(ep4j::kNotifyThreads) ep4j_notify(const __grid_constant__ ep4j::NotifyParams p) {
  using namespace ep4j;
  __shared__ int warp_sums[kMaxRanks][32];
  __shared__ int totals[kMaxRanks];
  __shared__ int matrix[kMaxRanks][kMaxRanks];  // [source][destination]
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

  // Publish this rank's row in every rank's mailbox (the half of this call's parity), then signal.
  const int half = (int)(n & 1ull);
  for (int j = 0; j < R; j++) {
    int* row = reinterpret_cast<int*>(p.heap[j] + p.o_mailbox) + ((long long)half * kMaxRanks + p.rank) * kMailboxRow;
    for (int i = tid; i < R + p.num_experts; i += blockDim.x)
      row[i < R ? i : kMaxRanks + (i - R)] = i < R ? totals[i] : p.tokens_per_expert[i - R];
  }
  __syncthreads();
  if (tid < R) {
    __threadfence_system();
    signal_peer(control_of(p, tid)->notify, p.rank, signal_value(op, n));
  }
  const bool ok = block_wait_all(op, op.ctrl->notify, n, R, kWaitNotify, p.timeout_ns);
  // The host polls the summary's stamp instead of synchronizing the stream; it is written on
  // failure too, after the error record, so the host never waits past the kernel.
  if (!ok) {
    if (tid == 0) {
      op.ctrl->notify_calls = n;
      __threadfence_system();
      store_release_sys(&p.summary->stamp, op.index + 1);
    }
    return;
  }

  const int* mine = reinterpret_cast<const int*>(p.heap[p.rank] + p.o_mailbox) + (long long)half * kMaxRanks * kMailboxRow;
  if (tid < R * R) matrix[tid / R][tid % R] = mine[(tid / R) * kMailboxRow + (tid % R)];
  __syncthreads();
  if (tid < R) {
    int before = 0;
    for (int i = 0; i < p.rank; i++) before += matrix[i][tid];
    offset_on[tid] = before;
  }
  if (tid == 0) {
    int acc = 0;
    for (int i = 0; i < R; i++) {
      p.recv_offsets[i] = acc;
      acc += matrix[i][p.rank];
    }
    p.recv_offsets[R] = acc;
    *p.recv_total = acc;
    p.summary->total = acc;
    if (p.worst_rows > 0) {
      for (int d = 0; d < R; d++) {
        int rows = 0;
        for (int i = 0; i < R; i++) rows += matrix[i][d];
        if (rows > p.worst_rows) op_error(op, kWorstTokensOverflow, d, rows, p.worst_rows, 0);
      }
    }
  }
  for (int l = tid; l < p.local_experts; l += blockDim.x) {
    long long n = 0;
    for (int i = 0; i < R; i++) n += mine[i * kMailboxRow + kMaxRanks + p.rank * p.local_experts + l];
    const long long a = p.expert_alignment;
    const int aligned = (int)((n + a - 1) / a * a);
    p.recv_tokens_per_expert[l] = aligned;
    p.summary->tokens_per_expert[l] = aligned;
  }
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
    __threadfence_system();
    store_release_sys(&p.summary->stamp, op.index + 1);
  }
}
