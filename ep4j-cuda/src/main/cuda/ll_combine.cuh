// Low-latency combine (DESIGN 2.5): the send half (expert side) sends every received row back to
// its token's home rank, into creg[token][firstK] there (once per (token, expert), however many
// slots name the expert); the receive half (home side) sums them: out[t] = fma chain over k
// ascending of w[t][k] * y(t, k), from 0, rounded once. See ll_common.cuh.
#pragma once
#include "ll_common.cuh"

namespace ep4j {

__device__ __forceinline__ void ll_combine_send(const LlParams& p, const Op& op, unsigned long long n, LlShared& sm) {
  const int R = p.ranks, L = p.local_experts, N = p.max_tokens;
  // Every home rank must be done with our previous combine on this slot; meanwhile warps 1.. check
  // that this rank's topk is the one its dispatch used (the rows came back for those experts).
  // A block that found a mismatch, or sees one found before, sends nothing.
  const int checkers = blockDim.x - 32;
  auto check = [&] {
    bool good = true;
    for (long long i = (long long)blockIdx.x * checkers + threadIdx.x - 32; i < (long long)p.num_tokens * p.topk;
         i += (long long)gridDim.x * checkers) {
      const long long t = i / p.topk, k = i % p.topk;
      const long long e = ll_topk(p, i);
      const int stored = p.dtopk[t * p.max_topk + k];
      if (e < -1 || e >= p.experts) {
        op_error(op, kExpertOutOfRange, p.rank, e, p.experts, i);
        good = false;
      } else if (e != (long long)stored) {
        op_error(op, kLlTopkMismatch, p.rank, e, stored, i);
        good = false;
      }
    }
    ll_trace(p, kLlStaged, 32);
    return good && !(threadIdx.x == 32 && op_failed(op));
  };
  ll_trace(p, kLlWaitBegins);
  const bool ok = block_wait_all_while(op, ll_line(op.ctrl->ll_combine_free, p.slot), n - 1, R, kWaitLlCombineFree,
                                       p.timeout_ns, false, check);
  ll_trace(p, kLlFreeSeen);
  if (ok) {
    ll_block_scan(L, sm.off, [&](int le) { return p.recv_count[le]; });
    const int capacity = R * N;
    const int lane = threadIdx.x & 31;
    const int row_bytes = p.hidden * 2;
    const int chunks = (row_bytes + kLlChunkBytes - 1) / kLlChunkBytes;
    const long long units = (long long)sm.off[L] * chunks;
    for (long long u = ll_warp_unit(); u < units; u += (long long)gridDim.x * kLlWarps) {
      const int q = (int)(u / chunks), chunk = (int)(u % chunks);
      const int le = ll_find(sm.off, L, q);
      const int row = q - sm.off[le];
      int j = 0;
      while (j + 1 < R && p.ranges[2 * (le * R + j + 1)] <= row) j++;
      const long long in_row = (long long)le * capacity + row;
      const int t = p.source_token[in_row], k = p.first_k[in_row];
      const uint8_t* src = p.y + in_row * row_bytes;
      uint8_t* dst = p.heap[j] + p.o_creg + ((long long)t * p.max_topk + k) * p.row_stride;
      const int b0 = chunk * kLlChunkBytes;
      ll_copy_chunk(dst + b0, src + b0, min(row_bytes - b0, kLlChunkBytes) >> 4, lane,
                    [](const int4* a) { return load_stream(a); });
    }
  }
  ll_send_end<LlCombineWords>(p, op, n);
}

__device__ __forceinline__ void ll_combine_receive(const LlParams& p, const Op& op, unsigned long long n) {
  const int K = p.topk, H = p.hidden, T = p.num_tokens;
  const int lane = threadIdx.x & 31;
  // A warp unit is kVec * 256 channels of one token: lane i sums channels i*8 .. i*8+7 of each
  // 256, with kBatch * kVec 16-byte loads in flight before its first FMA. At 128 tokens x 7168
  // channels, units of 256 channels (3584) keep all 2112 warps busy: 1.5 us faster on H200 than
  // units of 512 (1792), which left 320 warps idle (2026-11-30).
  constexpr int kVec = 1;
  constexpr int kPart = 256 * kVec;
  constexpr int kBatch = 8;  // expert rows loaded before the first is summed
  const int parts = (H + kPart - 1) / kPart;
  const long long units = (long long)T * parts;
  const long long u0 = ll_warp_unit();
  // The first unit's top-k slots and weights are inputs, not peer data: loaded before the wait.
  long long e_first = -1;
  float w_first = 0.0f;
  if (u0 < units && lane < K) {
    const long long i = (u0 / parts) * K + lane;
    e_first = ll_topk(p, i);
    w_first = p.weights[i];
  }
  const bool ok = ll_wait_data<LlCombineWords>(p, op, n, kWaitLlCombineData);
  ll_trace(p, kLlDataSeen);
  if (ok) {
    bool first_unit = true;
    for (long long u = u0; u < units; u += (long long)gridDim.x * kLlWarps, first_unit = false) {
      const int t = (int)(u / parts), part = (int)(u % parts);
      const int c0 = part * kPart + lane * 8;  // channel of vector 0; vector h adds h * 256
      const uint8_t* creg = p.heap[p.rank] + p.o_creg + (long long)t * p.max_topk * p.row_stride + c0 * 2;
      float acc[kVec][8];
#pragma unroll
      for (int h = 0; h < kVec; h++)
#pragma unroll
        for (int i = 0; i < 8; i++) acc[h][i] = 0.0f;
      for (int k0 = 0; k0 < K; k0 += 32) {
        // Lane i describes slot k0 + i: whether it names an expert (-1, or flagged by the send
        // kernel, does not), its weight, and kf, the first slot naming the same expert (whose
        // creg row holds the expert's output).
        const int k = k0 + lane;
        const bool early = first_unit && k0 == 0;
        const long long e = early ? e_first : k < K ? ll_topk(p, (long long)t * K + k) : -1;
        const bool named = e >= 0 && e < p.experts;
        const float w = !named ? 0.0f : early ? w_first : p.weights[(long long)t * K + k];
        int kf = 0;
        if (K <= 32) {
          const unsigned int same = __match_any_sync(0xffffffffu, named ? e : -2 - (long long)lane);
          kf = __ffs(same) - 1;
        } else if (named) {
          while (ll_topk(p, (long long)t * K + kf) != e) kf++;
        }
        const unsigned int valid = __ballot_sync(0xffffffffu, named);
        const int slots = min(32, K - k0);
        for (int i0 = 0; i0 < slots; i0 += kBatch) {
          int4 v[kBatch][kVec];
#pragma unroll
          for (int b = 0; b < kBatch; b++) {
            const int i = i0 + b;
            const int row = __shfl_sync(0xffffffffu, kf, i & 31);
#pragma unroll
            for (int h = 0; h < kVec; h++)
              if (i < slots && (valid >> i & 1) && c0 + h * 256 < H)
                v[b][h] = load_volatile_peer(
                    reinterpret_cast<const int4*>(creg + (long long)row * p.row_stride + h * 512));
          }
          // Summed in slot order: the same fma chain as the CPU backend.
#pragma unroll
          for (int b = 0; b < kBatch; b++) {
            const int i = i0 + b;
            const float wi = __shfl_sync(0xffffffffu, w, i & 31);
#pragma unroll
            for (int h = 0; h < kVec; h++) {
              if (i < slots && (valid >> i & 1) && c0 + h * 256 < H) {
                const unsigned int ws[4] = {(unsigned)v[b][h].x, (unsigned)v[b][h].y, (unsigned)v[b][h].z,
                                            (unsigned)v[b][h].w};
#pragma unroll
                for (int q = 0; q < 4; q++) {
                  acc[h][2 * q] = __fmaf_rn(wi, ll_bf16_lo(ws[q]), acc[h][2 * q]);
                  acc[h][2 * q + 1] = __fmaf_rn(wi, ll_bf16_hi(ws[q]), acc[h][2 * q + 1]);
                }
              }
            }
          }
        }
      }
#pragma unroll
      for (int h = 0; h < kVec; h++) {
        const int c = c0 + h * 256;
        if (c < H) {
          int4 o;
          __nv_bfloat162* hb = reinterpret_cast<__nv_bfloat162*>(&o);
#pragma unroll
          for (int i = 0; i < 4; i++) hb[i] = __floats2bfloat162_rn(acc[h][2 * i], acc[h][2 * i + 1]);
          store_stream(reinterpret_cast<int4*>(p.out + ((long long)t * H + c) * 2), o);
        }
      }
    }
  }
  ll_receive_end<LlCombineWords>(p, op, n);
}

}  // namespace ep4j

extern "C" __global__ void __launch_bounds__(ep4j::kLlThreads) ep4j_ll_combine(const __grid_constant__ ep4j::LlParams p) {
  using namespace ep4j;
  overlapped_launch_begin();
  __shared__ LlShared sm;
  ll_launch<LlCombineWords>(p, [&](const Op& op, unsigned long long n) { ll_combine_send(p, op, n, sm); },
                            [&](const Op& op, unsigned long long n) { ll_combine_receive(p, op, n); });
}
