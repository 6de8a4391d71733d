// Low-latency dispatch (DESIGN 2.4): the send half writes each token once into every rank that
// holds one of its experts (quantized on the fly) with, per (expert, source), a token list and a
// count; the receive half waits for every source and packs rows by (local expert, source rank,
// source token). See ll_common.cuh for the memory and the signals.
#pragma once
#include "ll_common.cuh"

namespace ep4j {

// Every block first stages the top-k of this rank's tokens in shared memory (when it fits,
// kLlStagedTopk slots; else the phases read global memory), and while at it stores its share of
// them into dtopk (combine checks against it) and flags experts out of range; warp 0 meanwhile
// waits until the receivers freed this slot.
// Phase A: block b's first warps list experts b, b + G, b + 2G, ... (G blocks). Lane i looks at
// token c0 + i of each 32-token chunk: the first top-k slot naming the expert, if any (duplicates
// in one token's top-k fold into one entry). A ballot orders the chunk's tokens, so the list is
// ascending and its positions need no atomics; the warp writes entries and the count into the
// expert's rank.
// Phase B: warps take (token, 512-channel part) units, the warps without experts first, and write
// the row, quantized on the fly, once into every destination rank that holds one of its experts.
__device__ __forceinline__ void ll_dispatch_send(const LlParams& p, const Op& op, unsigned long long n, LlShared& sm) {
  const int R = p.ranks, L = p.local_experts, E = p.experts, N = p.max_tokens, K = p.topk, T = p.num_tokens;
  const long long slots = (long long)T * K;
  const bool staged = slots <= kLlStagedTopk;
  const int stagers = blockDim.x - 32;
  auto clamp = [](long long e) { return (int)max(min(e, 2147483647LL), -2147483647LL); };
  // Slot i's expert e goes into dtopk (combine checks against it); one out of range is flagged.
  auto keep = [&](long long i, long long e) {
    p.dtopk[(i / K) * p.max_topk + i % K] = clamp(e);
    if (e < -1 || e >= E) op_error(op, kExpertOutOfRange, p.rank, e, E, i);
  };
  auto stage = [&] {
    if (staged) {
      for (long long i = threadIdx.x - 32; i < slots; i += stagers) {
        const long long e = ll_topk(p, i);
        sm.topk[i] = clamp(e);
        if ((i / stagers) % gridDim.x == blockIdx.x) keep(i, e);  // this block's share
      }
    } else {
      for (long long i = (long long)blockIdx.x * stagers + threadIdx.x - 32; i < slots;
           i += (long long)gridDim.x * stagers)
        keep(i, ll_topk(p, i));
    }
    return true;
  };
  // Every receiver must be done with our previous call on this slot before we overwrite it.
  const bool ok = block_wait_all_while(op, ll_line(op.ctrl->ll_dispatch_free, p.slot), n - 1, R, kWaitLlDispatchFree,
                                       p.timeout_ns, false, stage);
  auto expert_at = [&](long long i) -> long long { return staged ? (long long)sm.topk[i] : ll_topk(p, i); };
  ll_trace(p, kLlFreeSeen);
  if (ok) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int e = blockIdx.x + gridDim.x * warp; e < E; e += gridDim.x * kLlWarps) {
      const int dst = e / L, le = e % L;
      int* list = reinterpret_cast<int*>(p.heap[dst] + p.o_list) + ((long long)le * R + p.rank) * N;
      int count = 0;
      for (int c0 = 0; c0 < T; c0 += 32) {
        const int t = c0 + lane;
        int first = -1;
        if (t < T) {
#pragma unroll 8
          for (int k = K - 1; k >= 0; k--)
            if (expert_at((long long)t * K + k) == e) first = k;
        }
        const unsigned int named = __ballot_sync(0xffffffffu, first >= 0);
        if (first >= 0) list[count + __popc(named & ((1u << lane) - 1u))] = (first << kLlTokenBits) | t;
        count += __popc(named);
      }
      if (lane == 0) reinterpret_cast<int*>(p.heap[dst] + p.o_cnt)[le * R + p.rank] = count;
    }
    ll_trace(p, kLlListed);

    // Phase B: the rows.
    const int H = p.hidden;
    const int parts = (H + kLlPartChannels - 1) / kLlPartChannels;
    const long long units = (long long)T * parts;
    const bool fp8 = p.mode != kLlBf16;
    const int expert_warps = (E + gridDim.x - 1) / gridDim.x;  // per block, in phase A
    const int worker = ((warp - expert_warps % kLlWarps + kLlWarps) % kLlWarps) * gridDim.x + blockIdx.x;
    for (long long u = worker; u < units; u += (long long)gridDim.x * kLlWarps) {
      const int t = (int)(u / parts), part = (int)(u % parts);
      // Destination ranks of token t.
      unsigned int dests = 0;
      for (int k = lane; k < K; k += 32) {
        const long long e = expert_at((long long)t * K + k);
        if (e >= 0 && e < E) dests |= 1u << (int)(e / L);
      }
      dests = __reduce_or_sync(0xffffffffu, dests);
      if (dests == 0) continue;
      const uint8_t* xrow = p.x + (long long)t * H * 2;
      const long long drow = p.o_data + ((long long)p.rank * N + t) * p.row_stride;
      const int c0 = part * kLlPartChannels;
      if (!fp8) {
        const int n16 = (min(H - c0, kLlPartChannels) * 2) >> 4;
        for (int i = lane; i < n16; i += 32) {
          const int4 v = load_stream(reinterpret_cast<const int4*>(xrow + c0 * 2) + i);
#pragma unroll 1
          for (int j = 0; j < R; j++)
            if (dests >> j & 1) store_stream(reinterpret_cast<int4*>(p.heap[j] + drow + c0 * 2) + i, v);
        }
        continue;
      }
      // fp8: lanes 8b..8b+7 hold block b of the part (16 channels each).
      const int blocks = min(H - c0, kLlPartChannels) / 128;
      const int b = lane >> 3, sub = lane & 7;
      const bool active = b < blocks;
      const int ch = c0 + b * 128 + sub * 16;
      int4 v0 = make_int4(0, 0, 0, 0), v1 = make_int4(0, 0, 0, 0);
      if (active) {
        v0 = load_stream(reinterpret_cast<const int4*>(xrow + ch * 2));
        v1 = load_stream(reinterpret_cast<const int4*>(xrow + ch * 2) + 1);
      }
      float f[16];
      const unsigned int w[8] = {(unsigned)v0.x, (unsigned)v0.y, (unsigned)v0.z, (unsigned)v0.w,
                                 (unsigned)v1.x, (unsigned)v1.y, (unsigned)v1.z, (unsigned)v1.w};
#pragma unroll
      for (int i = 0; i < 8; i++) {
        f[2 * i] = ll_bf16_lo(w[i]);
        f[2 * i + 1] = ll_bf16_hi(w[i]);
      }
      float amax = 0.0f;
#pragma unroll
      for (int i = 0; i < 16; i++) amax = fmaxf(amax, fabsf(f[i]));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 4));
      amax = fmaxf(amax, 1e-4f);
      float scale;
      unsigned int q[4];
      if (p.mode == kLlFp8) {
        const float s = __fdiv_rn(448.0f, amax);
#pragma unroll
        for (int i = 0; i < 4; i++)
          q[i] = ll_e4m3x2(__fmul_rn(f[4 * i], s), __fmul_rn(f[4 * i + 1], s)) |
                 ll_e4m3x2(__fmul_rn(f[4 * i + 2], s), __fmul_rn(f[4 * i + 3], s)) << 16;
        scale = __fdiv_rn(amax, 448.0f);
      } else {
        scale = ll_ceil_pow2(__fdiv_rn(amax, 448.0f));
#pragma unroll
        for (int i = 0; i < 4; i++)
          q[i] = ll_e4m3x2(__fdiv_rn(f[4 * i], scale), __fdiv_rn(f[4 * i + 1], scale)) |
                 ll_e4m3x2(__fdiv_rn(f[4 * i + 2], scale), __fdiv_rn(f[4 * i + 3], scale)) << 16;
      }
      // UE8M0: the part's four exponent bytes form one int (missing blocks are zero bytes).
      const unsigned int ebyte = active ? (__float_as_uint(scale) >> 23) & 0xFFu : 0u;
      const unsigned int e0 = __shfl_sync(0xffffffffu, ebyte, 0), e1 = __shfl_sync(0xffffffffu, ebyte, 8);
      const unsigned int e2 = __shfl_sync(0xffffffffu, ebyte, 16), e3 = __shfl_sync(0xffffffffu, ebyte, 24);
      const unsigned int packed = e0 | e1 << 8 | e2 << 16 | e3 << 24;
      const int4 qv = make_int4((int)q[0], (int)q[1], (int)q[2], (int)q[3]);
#pragma unroll 1
      for (int j = 0; j < R; j++) {
        if (!(dests >> j & 1)) continue;
        uint8_t* row = p.heap[j] + drow;
        if (active) store_stream(reinterpret_cast<int4*>(row + ch), qv);
        if (p.mode == kLlFp8Ue8m0) {
          if (lane == 0) reinterpret_cast<unsigned int*>(row + H)[part] = packed;
        } else if (active && sub == 0) {
          reinterpret_cast<float*>(row + H)[c0 / 128 + b] = scale;
        }
      }
    }
  }
  ll_send_end<LlDispatchWords>(p, op, n);
}

__device__ __forceinline__ void ll_dispatch_receive(const LlParams& p, const Op& op, unsigned long long n, LlShared& sm) {
  const int R = p.ranks, L = p.local_experts, N = p.max_tokens;
  const bool ok = block_wait_all(op, ll_line(op.ctrl->ll_dispatch_data, p.slot), n, R, kWaitLlDispatchData, p.timeout_ns);
  ll_trace(p, kLlDataSeen);
  if (ok) {
    const volatile int* cnt = reinterpret_cast<const volatile int*>(p.heap[p.rank] + p.o_cnt);
    const int* list = reinterpret_cast<const int*>(p.heap[p.rank] + p.o_list);
    const int M = L * R;
    ll_block_scan(M, sm.off, [&](int i) { return (int)cnt[i]; });
    ll_trace(p, kLlScanned);
    const int capacity = R * N;
    if (blockIdx.x == 0) {
      for (int i = threadIdx.x; i < M; i += blockDim.x) {
        const int le = i / R;
        p.ranges[2 * i] = sm.off[i] - sm.off[le * R];
        p.ranges[2 * i + 1] = sm.off[i + 1] - sm.off[i];
      }
      for (int le = threadIdx.x; le < L; le += blockDim.x) p.recv_count[le] = sm.off[(le + 1) * R] - sm.off[le * R];
    }
    // Rows past recvCount: source token -1.
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)L * capacity;
         i += (long long)gridDim.x * blockDim.x) {
      const int le = (int)(i / capacity), row = (int)(i % capacity);
      if (row >= sm.off[(le + 1) * R] - sm.off[le * R]) p.source_token[i] = -1;
    }
    const int lane = threadIdx.x & 31;
    const int chunks = (p.x_row_bytes + kLlChunkBytes - 1) / kLlChunkBytes;
    const long long units = (long long)sm.off[M] * chunks;
    for (long long u = (long long)blockIdx.x * kLlWarps + (threadIdx.x >> 5); u < units;
         u += (long long)gridDim.x * kLlWarps) {
      const int q = (int)(u / chunks), chunk = (int)(u % chunks);
      const int pair = ll_find(sm.off, M, q);
      const int le = pair / R, j = pair % R, pos = q - sm.off[pair];
      const int row = q - sm.off[le * R];
      const int entry = *reinterpret_cast<const volatile int*>(list + ((long long)le * R + j) * N + pos);
      const int t = entry & kLlTokenMask;
      const uint8_t* src = p.heap[p.rank] + p.o_data + ((long long)j * N + t) * p.row_stride;
      const long long out_row = (long long)le * capacity + row;
      uint8_t* dst = p.recv_x + out_row * p.x_row_bytes;
      const int b0 = chunk * kLlChunkBytes;
      ll_copy_chunk(dst + b0, src + b0, min(p.x_row_bytes - b0, kLlChunkBytes) >> 4, lane,
                    [](const int4* a) { return load_volatile_peer(a); });
      if (chunk == 0) {
        for (int i = lane; i < (p.scale_bytes >> 2); i += 32)
          reinterpret_cast<int*>(p.recv_scales + out_row * p.scale_bytes)[i] =
              *reinterpret_cast<const volatile int*>(src + p.hidden + 4 * i);
        if (lane == 0) {
          p.source_token[out_row] = t;
          p.first_k[out_row] = entry >> kLlTokenBits;
        }
      }
    }
  }
  ll_receive_end<LlDispatchWords>(p, op, n);
}

}  // namespace ep4j

extern "C" __global__ void __launch_bounds__(ep4j::kLlThreads) ep4j_ll_dispatch(const __grid_constant__ ep4j::LlParams p) {
  using namespace ep4j;
  __shared__ LlShared sm;
  ll_launch<LlDispatchWords>(p, [&](const Op& op, unsigned long long n) { ll_dispatch_send(p, op, n, sm); },
                             [&](const Op& op, unsigned long long n) { ll_dispatch_receive(p, op, n, sm); });
}
