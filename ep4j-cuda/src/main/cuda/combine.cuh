// Normal combine: the token's home rank pulls the rows its token took on every rank and sums
// them in float32 in the fixed order of DESIGN 2.3 (bias0, bias1, then ranks ascending), so the
// result is bit-identical to the CPU backend. Loads of all ranks are issued before the adds, to
// keep NVLink reads in flight; the adds themselves stay in rank order.
#pragma once
#include "common.cuh"

namespace ep4j {

__device__ __forceinline__ void add_bf16x8(float (&acc)[8], const int4& v) {
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const float2 f = __bfloat1622float2(h[i]);
    acc[2 * i] = __fadd_rn(acc[2 * i], f.x);
    acc[2 * i + 1] = __fadd_rn(acc[2 * i + 1], f.y);
  }
}

__device__ __forceinline__ int4 to_bf16x8(const float (&acc)[8]) {
  int4 out;
  __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&out);
#pragma unroll
  for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(acc[2 * i], acc[2 * i + 1]);
  return out;
}

}  // namespace ep4j

namespace ep4j {

// R ranks known at compile time, so the per-rank arrays stay in registers, and U chunks per
// lane per step: U * R sixteen-byte loads in flight per lane (8), whatever R is.
template <int R>
__device__ __forceinline__ void combine_body(const CombineParams& p) {
  constexpr int U = R >= 8 ? 1 : 8 / R;
  __shared__ int ok;
  // Our expert output is complete (stream order): tell every reader, then wait for theirs.
  if (blockIdx.x == 0 && threadIdx.x < R) {
    __threadfence_system();
    store_release_sys(p.signals[threadIdx.x] + signal_index(kCombineReady, p.rank), p.seq);
  }
  if (threadIdx.x == 0) ok = 1;
  __syncthreads();
  if (threadIdx.x < R &&
      !wait_signal(p.signals[p.rank], kCombineReady, threadIdx.x, p.seq, p.timeout_ns, p.error, p.operation))
    ok = 0;
  __syncthreads();

  if (ok) {
    const int lane = threadIdx.x & 31;
    const int warps_total = gridDim.x * (blockDim.x >> 5);
    const int chunks = p.hidden >> 3;  // 8 bf16 = 16 bytes
    for (int t = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); t < p.num_tokens; t += warps_total) {
      const int4* src[R];
      int present = 0;
#pragma unroll
      for (int j = 0; j < R; j++) {
        const int row = p.send_row[(long long)t * R + j];
        src[j] = reinterpret_cast<const int4*>(p.x[j] + (long long)max(row, 0) * p.hidden);
        present |= (row >= 0) << j;
      }
      const int4* b0 = p.bias0 ? reinterpret_cast<const int4*>(p.bias0 + (long long)t * p.hidden) : nullptr;
      const int4* b1 = p.bias1 ? reinterpret_cast<const int4*>(p.bias1 + (long long)t * p.hidden) : nullptr;
      int4* dst = reinterpret_cast<int4*>(p.out + (long long)t * p.hidden);
      for (int base = lane; base < chunks; base += 32 * U) {
        int4 v[U][R];
#pragma unroll
        for (int u = 0; u < U; u++)
#pragma unroll
          for (int j = 0; j < R; j++)
            if ((present >> j & 1) && base + 32 * u < chunks) v[u][j] = src[j][base + 32 * u];
#pragma unroll
        for (int u = 0; u < U; u++) {
          const int c = base + 32 * u;
          if (c >= chunks) break;
          float acc[8];
#pragma unroll
          for (int i = 0; i < 8; i++) acc[i] = 0.0f;
          if (b0) add_bf16x8(acc, b0[c]);
          if (b1) add_bf16x8(acc, b1[c]);
#pragma unroll
          for (int j = 0; j < R; j++)
            if (present >> j & 1) add_bf16x8(acc, v[u][j]);
          store_stream(dst + c, to_bf16x8(acc));
        }
      }
      for (int k = lane; k < p.topk; k += 32) {
        float w = 0.0f;
#pragma unroll
        for (int j = 0; j < R; j++)
          if (present >> j & 1) {
            const int row = p.send_row[(long long)t * R + j];
            w = __fadd_rn(w, p.weights[j][(long long)row * p.topk + k]);
          }
        p.out_weights[(long long)t * p.topk + k] = w;
      }
    }
  }

  // Every block is done reading peers: let each peer reuse its output, and wait until every
  // peer is done with ours before the stream moves on.
  if (!last_block_done(p.block_counter)) return;
  if (threadIdx.x < R) store_release_sys(p.signals[threadIdx.x] + signal_index(kCombineDone, p.rank), p.seq);
  if (threadIdx.x < R) wait_signal(p.signals[p.rank], kCombineDone, threadIdx.x, p.seq, p.timeout_ns, p.error, p.operation);
}

}  // namespace ep4j

#define EP4J_COMBINE(R)                                                                      \
  extern "C" __global__ void __launch_bounds__(ep4j::kCombineThreads)                        \
      ep4j_combine_r##R(const __grid_constant__ ep4j::CombineParams p) {                     \
    ep4j::combine_body<R>(p);                                                                \
  }
EP4J_COMBINE(1)
EP4J_COMBINE(2)
EP4J_COMBINE(3)
EP4J_COMBINE(4)
EP4J_COMBINE(5)
EP4J_COMBINE(6)
EP4J_COMBINE(7)
EP4J_COMBINE(8)
