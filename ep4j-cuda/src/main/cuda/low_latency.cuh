// Low-latency (decoding) dispatch and combine, bit-identical to the CPU backend (DESIGN 2.4-2.7).
//
// Every rank owns one peer-visible region (layout computed on the host, LowLatency.java, and
// passed as byte offsets of this call's slot) holding, per slot (two alternate):
//   data  [R][N] rows of row_stride bytes: token t of source j lands at row (j, t), once per
//         destination rank however many of its experts live there (bf16 row, or fp8 q + scales);
//   list  [L][R][N] int32: for (local expert, source), the source's tokens ascending, each entry
//         (firstK << 21) | t, firstK the first topk slot of the token that names the expert;
//   cnt   [L][R] int32: how many;
//   creg  [N][Kmax] bf16 rows: the expert output of (token, firstK) sent back by combine;
//   signals (u64, only grow): dsig[s][j] += 1 per send block of source j (release, after its
//         writes); dfree[s][j] = how many dispatches on slot s rank j has finished reading
//         (written by j into the senders' regions); csig / cfree the same for combine.
// The receive kernels wait (local polling, %globaltimer timeout into the ErrorRecord), then
// pack in a deterministic order: rows by (local expert, source rank, source token).
//
// Host mirror: every rank also owns a small block of host-mapped memory with the same word
// layout (o_sig / o_free index it too). The last block of a send kernel stores the call count
// (`sent`) into the dsig/csig word of every peer's block, and every free publication is copied
// there. The host waits on these words before it launches a kernel (LowLatency.java), so no
// kernel spins on a peer that has not launched its half yet: with one process driving several
// GPUs, a rank's thread was seen stuck in cuMemAlloc / cuMemFree for as long as a peer's kernel
// spun waiting for that rank, so both waited until the timeout. The GPU waits below stay as a
// safety net (they pass at once) and still record who was missing when the host gave up.
#pragma once
#include <cuda_fp8.h>
#include "common.cuh"

namespace ep4j {

constexpr int kLlWarps = kLlThreads / 32;
constexpr int kLlTokenMask = (1 << kLlTokenBits) - 1;
constexpr int kLlPartChannels = 512;  // one warp unit: 512 channels = 4 fp8 blocks = one UE8M0 int


// ------------------------------------------------------------------------------ small helpers

__device__ __forceinline__ void red_add_release_sys(unsigned long long* addr, unsigned long long v) {
  asm volatile("red.release.sys.global.add.u64 [%0], %1;" ::"l"(addr), "l"(v) : "memory");
}

__device__ __forceinline__ unsigned long long* ll_signal(uint8_t* base, long long offset, int index) {
  return reinterpret_cast<unsigned long long*>(base + offset) + index;
}

// Spins until *addr >= target (addr in this rank's memory, written by a peer with release).
__device__ __noinline__ bool ll_wait(const unsigned long long* addr, unsigned long long target, long long timeout_ns,
                                     ErrorRecord* err, int operation, int peer, int kind) {
  unsigned long long v = load_acquire_sys(addr);
  if (v >= target) return true;
  const uint64_t start = global_timer_ns();
  for (unsigned int spin = 1;; spin++) {
    v = load_acquire_sys(addr);
    if (v >= target) return true;
    if ((spin & 1023u) == 0) {
      if (*(volatile int*)&err->code != 0) return false;
      if ((long long)(global_timer_ns() - start) > timeout_ns) {
        record_error(err, kTimeout, operation, peer, (long long)v, (long long)target, kind);
        return false;
      }
    }
  }
}

// Threads < R wait on word `index` = peer of this slot's signal array at `offset` in our own
// region; returns (block-uniformly) whether all arrived.
__device__ __forceinline__ bool ll_block_wait(const LlParams& p, long long offset, unsigned long long target,
                                              int kind) {
  __shared__ int ok;
  if (threadIdx.x == 0) ok = 1;
  __syncthreads();
  if (threadIdx.x < p.ranks) {
    if (!ll_wait(ll_signal(p.peer_base[p.rank], offset, threadIdx.x), target, p.timeout_ns, p.error, p.operation,
                 threadIdx.x, kind))
      ok = 0;
  }
  __syncthreads();
  return ok != 0;
}

// After every thread of the block wrote its data: one release-add per destination rank.
__device__ __forceinline__ void ll_block_signal(const LlParams& p) {
  __syncthreads();
  if (threadIdx.x < p.ranks) {
    __threadfence_system();
    red_add_release_sys(ll_signal(p.peer_base[threadIdx.x], p.o_sig, p.rank), 1ull);
  }
}

// Publishes our free value for this slot into every peer's region, then into its host mirror.
__device__ __forceinline__ void ll_publish_free(const LlParams& p) {
  if (threadIdx.x < p.ranks) {
    __threadfence_system();
    store_release_sys(ll_signal(p.peer_base[threadIdx.x], p.o_free, p.rank), p.publish);
    store_release_sys(ll_signal(p.host_base[threadIdx.x], p.o_free, p.rank), p.publish);
  }
}

// End of a send kernel: once every block has signalled, the last one tells every peer's host
// that this call's rows have arrived (the host launches the receive kernel only then).
__device__ __forceinline__ void ll_send_done(const LlParams& p) {
  if (!last_block_done(p.counter)) return;
  if (threadIdx.x < p.ranks) store_release_sys(ll_signal(p.host_base[threadIdx.x], p.o_sig, p.rank), p.sent);
}

__device__ __forceinline__ long long ll_topk(const LlParams& p, long long i) {
  return p.topk64 ? static_cast<const long long*>(p.topk_idx)[i] : (long long)static_cast<const int*>(p.topk_idx)[i];
}

// Exclusive prefix sums of n ints (read by `get`) into s_off[0..n] (s_off[n] = total), by one
// block of kLlThreads: each thread sums a contiguous run, then a shuffle scan over the runs.
template <typename Get>
__device__ __forceinline__ void ll_block_scan(int n, int* s_off, Get get) {
  __shared__ int s_warp[kLlWarps];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int per = (n + kLlThreads - 1) / kLlThreads;
  const int begin = threadIdx.x * per;
  int sum = 0;
  for (int i = 0; i < per; i++)
    if (begin + i < n) sum += get(begin + i);
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
  for (int i = 0; i < per; i++)
    if (begin + i < n) {
      s_off[begin + i] = acc;
      acc += get(begin + i);
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

// ------------------------------------------------------------------------------ dispatch: send

// Phase A (every block, redundantly): per chunk of 32 tokens, a bit mask of the chunk's tokens
// per expert (duplicates in one token's topk fold into one bit); a token's position among this
// rank's tokens of expert e is the running count plus the bits below it. The block that owns
// the token (t % gridDim) writes its list entry into the expert's rank; block 0 writes counts.
// Phase B: warps take (token, 512-channel part) units and write the row, quantized on the fly,
// once into every destination rank that holds one of its experts.
extern "C" __global__ void __launch_bounds__(kLlThreads) ep4j_ll_dispatch_send(const __grid_constant__ LlParams p) {
  __shared__ int s_cnt[kLlMaxExperts];
  __shared__ unsigned int s_mask[kLlMaxExperts];
  const int R = p.ranks, L = p.local_experts, E = p.experts, N = p.max_tokens, K = p.topk, T = p.num_tokens;

  if (blockIdx.x == 0) ll_publish_free(p);  // our previous dispatch on this slot is over (stream order)
  const bool ok = ll_block_wait(p, p.o_free, p.free_target, kWaitLlDispatchFree);

  if (ok) {
    for (int e = threadIdx.x; e < E; e += blockDim.x) s_cnt[e] = 0;
    for (int c0 = 0; c0 < T; c0 += 32) {
      for (int e = threadIdx.x; e < E; e += blockDim.x) s_mask[e] = 0u;
      __syncthreads();
      const int chunk = min(32, T - c0);
      for (int i = threadIdx.x; i < chunk * K; i += blockDim.x) {
        const long long e = ll_topk(p, (long long)c0 * K + i);
        if (e >= 0 && e < E) atomicOr(&s_mask[e], 1u << (i / K));
      }
      __syncthreads();
      for (int i = threadIdx.x; i < chunk * K; i += blockDim.x) {
        const int t = c0 + i / K, k = i % K;
        if (t % gridDim.x != (int)blockIdx.x) continue;
        const long long e = ll_topk(p, (long long)t * K + k);
        p.dtopk[(long long)t * p.max_topk + k] = (int)max(min(e, 2147483647LL), -2147483647LL);
        if (e < -1 || e >= E) {
          record_error(p.error, kExpertOutOfRange, p.operation, p.rank, e, E, (long long)t * K + k);
          continue;
        }
        if (e < 0) continue;
        bool first = true;
        for (int k2 = 0; k2 < k; k2++) first &= ll_topk(p, (long long)t * K + k2) != e;
        if (!first) continue;
        const int pos = s_cnt[e] + __popc(s_mask[e] & ((1u << (t - c0)) - 1u));
        const int dst = (int)(e / L), le = (int)(e % L);
        int* list = reinterpret_cast<int*>(p.peer_base[dst] + p.o_list);
        list[((long long)le * R + p.rank) * N + pos] = (k << kLlTokenBits) | t;
      }
      __syncthreads();
      for (int e = threadIdx.x; e < E; e += blockDim.x) s_cnt[e] += __popc(s_mask[e]);
    }
    __syncthreads();
    if (blockIdx.x == 0) {
      for (int e = threadIdx.x; e < E; e += blockDim.x) {
        int* cnt = reinterpret_cast<int*>(p.peer_base[e / L] + p.o_cnt);
        cnt[(e % L) * R + p.rank] = s_cnt[e];
      }
    }

    // Phase B: the rows.
    const int lane = threadIdx.x & 31;
    const int H = p.hidden;
    const int parts = (H + kLlPartChannels - 1) / kLlPartChannels;
    const long long units = (long long)T * parts;
    const bool fp8 = p.mode != kLlBf16;
    for (long long u = (long long)blockIdx.x * kLlWarps + (threadIdx.x >> 5); u < units;
         u += (long long)gridDim.x * kLlWarps) {
      const int t = (int)(u / parts), part = (int)(u % parts);
      // Destination ranks of token t.
      unsigned int dests = 0;
      for (int k = lane; k < K; k += 32) {
        const long long e = ll_topk(p, (long long)t * K + k);
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
            if (dests >> j & 1) store_stream(reinterpret_cast<int4*>(p.peer_base[j] + drow + c0 * 2) + i, v);
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
        uint8_t* row = p.peer_base[j] + drow;
        if (active) store_stream(reinterpret_cast<int4*>(row + ch), qv);
        if (p.mode == kLlFp8Ue8m0) {
          if (lane == 0) reinterpret_cast<unsigned int*>(row + H)[part] = packed;
        } else if (active && sub == 0) {
          reinterpret_cast<float*>(row + H)[c0 / 128 + b] = scale;
        }
      }
    }
  }
  ll_block_signal(p);
  ll_send_done(p);
}

// ------------------------------------------------------------------------------ dispatch: receive

extern "C" __global__ void __launch_bounds__(kLlThreads) ep4j_ll_dispatch_recv(const __grid_constant__ LlParams p) {
  __shared__ int s_off[kLlMaxExperts + 1];
  const int R = p.ranks, L = p.local_experts, N = p.max_tokens;
  uint8_t* self = p.peer_base[p.rank];
  const bool ok = ll_block_wait(p, p.o_sig, p.target, kWaitLlDispatchData);
  if (ok) {
    const volatile int* cnt = reinterpret_cast<const volatile int*>(self + p.o_cnt);
    const int* list = reinterpret_cast<const int*>(self + p.o_list);
    const int M = L * R;
    ll_block_scan(M, s_off, [&](int i) { return (int)cnt[i]; });
    const int capacity = R * N;
    if (blockIdx.x == 0) {
      for (int i = threadIdx.x; i < M; i += blockDim.x) {
        const int le = i / R;
        p.ranges[2 * i] = s_off[i] - s_off[le * R];
        p.ranges[2 * i + 1] = s_off[i + 1] - s_off[i];
      }
      for (int le = threadIdx.x; le < L; le += blockDim.x) p.recv_count[le] = s_off[(le + 1) * R] - s_off[le * R];
    }
    // Rows past recvCount: source token -1.
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)L * capacity;
         i += (long long)gridDim.x * blockDim.x) {
      const int le = (int)(i / capacity), row = (int)(i % capacity);
      if (row >= s_off[(le + 1) * R] - s_off[le * R]) p.source_token[i] = -1;
    }
    const int lane = threadIdx.x & 31;
    const int part_bytes = p.mode == kLlBf16 ? kLlPartChannels * 2 : kLlPartChannels;
    const int parts = (p.x_row_bytes + part_bytes - 1) / part_bytes;
    const long long units = (long long)s_off[M] * parts;
    for (long long u = (long long)blockIdx.x * kLlWarps + (threadIdx.x >> 5); u < units;
         u += (long long)gridDim.x * kLlWarps) {
      const int q = (int)(u / parts), part = (int)(u % parts);
      const int pair = ll_find(s_off, M, q);
      const int le = pair / R, j = pair % R, pos = q - s_off[pair];
      const int row = q - s_off[le * R];
      const int entry = *reinterpret_cast<const volatile int*>(list + ((long long)le * R + j) * N + pos);
      const int t = entry & kLlTokenMask;
      const uint8_t* src = self + p.o_data + ((long long)j * N + t) * p.row_stride;
      const long long out_row = (long long)le * capacity + row;
      uint8_t* dst = p.recv_x + out_row * p.x_row_bytes;
      const int b0 = part * part_bytes;
      const int n16 = min(p.x_row_bytes - b0, part_bytes) >> 4;
      for (int i = lane; i < n16; i += 32)
        store_stream(reinterpret_cast<int4*>(dst + b0) + i, load_volatile_peer(reinterpret_cast<const int4*>(src + b0) + i));
      if (part == 0) {
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
  // Every block is done reading this slot: tell the senders they may reuse it.
  if (!last_block_done(p.counter)) return;
  ll_publish_free(p);  // also after a failure, so that peers do not wait on us in vain
}

// ------------------------------------------------------------------------------ combine: send

// The expert side: every received row y[le][row] goes back to its token's home rank, into
// creg[token][firstK] there (once per (token, expert), however many slots name the expert).
extern "C" __global__ void __launch_bounds__(kLlThreads) ep4j_ll_combine_send(const __grid_constant__ LlParams p) {
  __shared__ int s_off[kLlMaxExperts + 1];
  const int R = p.ranks, L = p.local_experts, N = p.max_tokens;
  if (blockIdx.x == 0) ll_publish_free(p);  // our previous combine on this slot is over (stream order)
  // This rank's topk must be the one its dispatch used (the rows came back for those experts).
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)p.num_tokens * p.topk;
       i += (long long)gridDim.x * blockDim.x) {
    const long long t = i / p.topk, k = i % p.topk;
    const long long e = ll_topk(p, i);
    const int stored = p.dtopk[t * p.max_topk + k];
    if (e < -1 || e >= p.experts)
      record_error(p.error, kExpertOutOfRange, p.operation, p.rank, e, p.experts, i);
    else if (e != (long long)stored)
      record_error(p.error, kLlTopkMismatch, p.operation, p.rank, e, stored, i);
  }
  const bool ok = ll_block_wait(p, p.o_free, p.free_target, kWaitLlCombineFree);
  if (ok) {
    ll_block_scan(L, s_off, [&](int le) { return p.recv_count[le]; });
    const int capacity = R * N;
    const int lane = threadIdx.x & 31;
    const int row_bytes = p.hidden * 2;
    const int part_bytes = kLlPartChannels * 2;
    const int parts = (row_bytes + part_bytes - 1) / part_bytes;
    const long long units = (long long)s_off[L] * parts;
    for (long long u = (long long)blockIdx.x * kLlWarps + (threadIdx.x >> 5); u < units;
         u += (long long)gridDim.x * kLlWarps) {
      const int q = (int)(u / parts), part = (int)(u % parts);
      const int le = ll_find(s_off, L, q);
      const int row = q - s_off[le];
      int j = 0;
      while (j + 1 < R && p.ranges[2 * (le * R + j + 1)] <= row) j++;
      const long long in_row = (long long)le * capacity + row;
      const int t = p.source_token[in_row], k = p.first_k[in_row];
      const uint8_t* src = p.y + in_row * row_bytes;
      uint8_t* dst = p.peer_base[j] + p.o_creg + ((long long)t * p.max_topk + k) * p.row_stride;
      const int b0 = part * part_bytes;
      const int n16 = min(row_bytes - b0, part_bytes) >> 4;
      for (int i = lane; i < n16; i += 32)
        store_stream(reinterpret_cast<int4*>(dst + b0) + i, load_stream(reinterpret_cast<const int4*>(src + b0) + i));
    }
  }
  ll_block_signal(p);
  ll_send_done(p);
}

// ------------------------------------------------------------------------------ combine: receive

// The home side: out[t] = fma chain over k ascending of w[t][k] * y(t, k), from 0, rounded once.
extern "C" __global__ void __launch_bounds__(kLlThreads) ep4j_ll_combine_recv(const __grid_constant__ LlParams p) {
  const int K = p.topk, H = p.hidden, T = p.num_tokens;
  uint8_t* self = p.peer_base[p.rank];
  const bool ok = ll_block_wait(p, p.o_sig, p.target, kWaitLlCombineData);
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
              self + p.o_creg + ((long long)t * p.max_topk + kf) * p.row_stride + c * 2));
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
  if (!last_block_done(p.counter)) return;
  ll_publish_free(p);  // also after a failure, so that peers do not wait on us in vain
}

}  // namespace ep4j
