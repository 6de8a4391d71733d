// Low-latency combine (DESIGN 2.5): the send half (expert side) sends every received row back to
// its token's home rank, into creg[token][firstK] there (once per (token, expert), however many
// slots name the expert); the receive half (home side) sums them: out[t] = fma chain over k
// ascending of w[t][k] * y(t, k), from 0, rounded once. See ll_common.cuh.
#pragma once
#include "ll_common.cuh"

namespace ep4j {

__device__ __forceinline__ void ll_combine_send(const LlParams& p, const Op& op, unsigned long long n, LlShared& sm) {
  const int R = p.ranks, L = p.local_experts, N = p.max_tokens;
  // This rank's topk must be the one its dispatch used (the rows came back for those experts).
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)p.num_tokens * p.topk;
       i += (long long)gridDim.x * blockDim.x) {
    const long long t = i / p.topk, k = i % p.topk;
    const long long e = ll_topk(p, i);
    const int stored = p.dtopk[t * p.max_topk + k];
    if (e < -1 || e >= p.experts)
      op_error(op, kExpertOutOfRange, p.rank, e, p.experts, i);
    else if (e != (long long)stored)
      op_error(op, kLlTopkMismatch, p.rank, e, stored, i);
  }
  __syncthreads();
  // Every home rank must be done with our previous combine on this slot.
  const bool ok = block_wait_all(op, ll_line(op.ctrl->ll_combine_free, p.slot), n - 1, R, kWaitLlCombineFree,
                                 p.timeout_ns, false) && !block_sees_failure(op);
  if (ok) {
    ll_block_scan(L, sm.off, [&](int le) { return p.recv_count[le]; });
    const int capacity = R * N;
    const int lane = threadIdx.x & 31;
    const int row_bytes = p.hidden * 2;
    const int part_bytes = kLlPartChannels * 2;
    const int parts = (row_bytes + part_bytes - 1) / part_bytes;
    const long long units = (long long)sm.off[L] * parts;
    for (long long u = (long long)blockIdx.x * kLlWarps + (threadIdx.x >> 5); u < units;
         u += (long long)gridDim.x * kLlWarps) {
      const int q = (int)(u / parts), part = (int)(u % parts);
      const int le = ll_find(sm.off, L, q);
      const int row = q - sm.off[le];
      int j = 0;
      while (j + 1 < R && p.ranges[2 * (le * R + j + 1)] <= row) j++;
      const long long in_row = (long long)le * capacity + row;
      const int t = p.source_token[in_row], k = p.first_k[in_row];
      const uint8_t* src = p.y + in_row * row_bytes;
      uint8_t* dst = p.heap[j] + p.o_creg + ((long long)t * p.max_topk + k) * p.row_stride;
      const int b0 = part * part_bytes;
      const int n16 = min(row_bytes - b0, part_bytes) >> 4;
      for (int i = lane; i < n16; i += 32)
        store_stream(reinterpret_cast<int4*>(dst + b0) + i, load_stream(reinterpret_cast<const int4*>(src + b0) + i));
    }
  }
  if (!last_block_done(&op.ctrl->block_counter[2])) return;
  if (threadIdx.x < R) signal_peer(ll_line(control_of(p, threadIdx.x)->ll_combine_data, p.slot), p.rank, signal_value(op, n));
  if (threadIdx.x == 0) {
    op.ctrl->ll_combine_sent[p.slot] = n;
    if (p.phase == kLlSend) {
      op.ctrl->ll_combine_op[p.slot] = op.index;
      op.ctrl->ops = op.index + 1;
    }
  }
}

__device__ __forceinline__ void ll_combine_receive(const LlParams& p, const Op& op, unsigned long long n) {
  const int R = p.ranks, K = p.topk, H = p.hidden, T = p.num_tokens;
  const bool ok = block_wait_all(op, ll_line(op.ctrl->ll_combine_data, p.slot), n, R, kWaitLlCombineData, p.timeout_ns);
  if (ok) {
    const int lane = threadIdx.x & 31;
    constexpr int kPart = 256;  // channels per warp unit: 8 per lane
    const int parts = (H + kPart - 1) / kPart;
    const long long units = (long long)T * parts;
    for (long long u = (long long)blockIdx.x * kLlWarps + (threadIdx.x >> 5); u < units;
         u += (long long)gridDim.x * kLlWarps) {
      const int t = (int)(u / parts), part = (int)(u % parts);
      const int c = part * kPart + lane * 8;
      float acc[8];
#pragma unroll
      for (int i = 0; i < 8; i++) acc[i] = 0.0f;
      for (int k = 0; k < K; k++) {
        const long long e = ll_topk(p, (long long)t * K + k);
        if (e < 0 || e >= p.experts) continue;  // -1, or flagged by the send kernel
        int kf = 0;
        while (ll_topk(p, (long long)t * K + kf) != e) kf++;
        const float w = p.weights[(long long)t * K + k];
        if (c < H) {
          const int4 v = load_volatile_peer(reinterpret_cast<const int4*>(
              p.heap[p.rank] + p.o_creg + ((long long)t * p.max_topk + kf) * p.row_stride + c * 2));
          const unsigned int ws[4] = {(unsigned)v.x, (unsigned)v.y, (unsigned)v.z, (unsigned)v.w};
#pragma unroll
          for (int i = 0; i < 4; i++) {
            acc[2 * i] = __fmaf_rn(w, ll_bf16_lo(ws[i]), acc[2 * i]);
            acc[2 * i + 1] = __fmaf_rn(w, ll_bf16_hi(ws[i]), acc[2 * i + 1]);
          }
        }
      }
      if (c < H) {
        int4 o;
        __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&o);
#pragma unroll
        for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(acc[2 * i], acc[2 * i + 1]);
        store_stream(reinterpret_cast<int4*>(p.out + ((long long)t * H + c) * 2), o);
      }
    }
  }
  if (!last_block_done(&op.ctrl->block_counter[0])) return;
  if (threadIdx.x < R) signal_peer(ll_line(control_of(p, threadIdx.x)->ll_combine_free, p.slot), p.rank, signal_value(op, n));
  __syncthreads();
  if (threadIdx.x == 0) {
    op.ctrl->ll_combine_received[p.slot] = n;
    if (p.phase == kLlSendAndReceive) op.ctrl->ops = op.index + 1;
    op_complete(op);
  }
}

}  // namespace ep4j

extern "C" __global__ void __launch_bounds__(ep4j::kLlThreads) ep4j_ll_combine(const __grid_constant__ ep4j::LlParams p) {
  using namespace ep4j;
  __shared__ LlShared sm;
  Control* ctrl = my_control(p);
  const unsigned long long sent = load_volatile_u64(&ctrl->ll_combine_sent[p.slot]);
  const unsigned long long received = load_volatile_u64(&ctrl->ll_combine_received[p.slot]);
  const Op op = p.phase == kLlReceive ? op_at(p, load_volatile_u64(&ctrl->ll_combine_op[p.slot]), kOpLlCombine)
                                      : op_begin(p, kOpLlCombine);
  if (p.phase != kLlReceive) ll_combine_send(p, op, sent + 1, sm);
  __syncthreads();
  if (p.phase != kLlSend) ll_combine_receive(p, op, received + 1);
}
