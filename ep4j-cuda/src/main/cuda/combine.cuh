// Normal combine: the token's home rank pulls the rows its token took on every rank and sums
// them in float32 in the fixed order of DESIGN 2.3 (bias0, bias1, then ranks ascending), so the
// result is bit-identical to the CPU backend. Loads of all ranks are issued before the adds, to
// keep NVLink reads in flight; the adds themselves stay in rank order.
//
// Peers read each rank's expert output in that rank's heap: where it already lies (a dispatch
// output, or the combine input the buffer hands out), or where the kernel first copies it.
// Each rank publishes the offset in its control block before it signals combine_ready, so no
// pointer travels through the host. One launch, one op.
#pragma once
#include "control.cuh"

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
// Offset of [ptr, ptr + bytes) in this rank's heap, or -1 when it lies elsewhere.
__device__ __forceinline__ long long heap_offset(const CombineParams& p, const void* ptr, long long bytes) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(p.heap[p.rank]), at = reinterpret_cast<uintptr_t>(ptr);
  if (ptr == nullptr || at < base || at + bytes > base + (uintptr_t)p.heap_bytes) return -1;
  return (long long)(at - base);
}

// Copies `bytes` (a multiple of 16) with every thread of the grid.
__device__ __forceinline__ void grid_copy(uint8_t* dst, const uint8_t* src, long long bytes) {
  const int4* s = reinterpret_cast<const int4*>(src);
  int4* d = reinterpret_cast<int4*>(dst);
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < bytes / 16; i += (long long)gridDim.x * blockDim.x)
    store_stream(d + i, load_stream(s + i));
}

// Makes this rank's expert output readable by its peers and tells them where it is.
__device__ __forceinline__ void combine_publish(const CombineParams& p, const Op& op, unsigned long long n) {
  const long long x_bytes = (long long)p.num_rows * p.hidden * 2;
  const long long w_bytes = p.weights ? (long long)p.num_rows * p.topk * 4 : 0;
  long long x_off = heap_offset(p, p.x, x_bytes);
  long long w_off = p.weights ? heap_offset(p, p.weights, w_bytes) : -1;
  const bool stage_x = x_off < 0, stage_w = p.weights && w_off < 0;
  if (stage_x) grid_copy(p.heap[p.rank] + p.o_stage_x, reinterpret_cast<const uint8_t*>(p.x), x_bytes);
  if (stage_w) {
    // Weight rows are 4K bytes: copied by 4-byte words.
    float* dst = reinterpret_cast<float*>(p.heap[p.rank] + p.o_stage_w);
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < w_bytes / 4;
         i += (long long)gridDim.x * blockDim.x)
      dst[i] = p.weights[i];
  }
  if (stage_x || stage_w) {
    if (!last_block_done(&op.ctrl->block_counter[1])) return;
  } else if (blockIdx.x != 0) {
    return;
  }
  if (threadIdx.x == 0) {
    op.ctrl->combine_x_offset = stage_x ? p.o_stage_x : x_off;
    op.ctrl->combine_w_offset = stage_w ? p.o_stage_w : w_off;
    __threadfence_system();
  }
  __syncthreads();
  if (threadIdx.x < p.ranks) signal_peer(control_of(p, threadIdx.x)->combine_ready, p.rank, signal_value(op, n));
}

// R ranks known at compile time, so the per-rank arrays stay in registers, and U chunks per
// lane per step: U * R sixteen-byte loads in flight per lane (8), whatever R is.
template <int R>
__device__ __forceinline__ void combine_body(const CombineParams& p) {
  constexpr int U = R >= 8 ? 1 : 8 / R;
  __shared__ const __nv_bfloat16* s_x[kMaxRanks];
  __shared__ const float* s_w[kMaxRanks];
  bool ok;
  {
    // The op and the call number stay in memory until the last block moves them on: read
    // again after the token loop rather than held in registers through it.
    unsigned long long n;
    const Op op = op_begin(p, kOpCombine, &Control::combine_calls, n);
    combine_publish(p, op, n);
    ok = block_wait_all(op, op.ctrl->combine_ready, n, R, kWaitCombineReady, p.timeout_ns);
  }
  if (ok && threadIdx.x < R) {
    const Control* peer = control_of(p, threadIdx.x);
    const long long x_off = *reinterpret_cast<const volatile long long*>(&peer->combine_x_offset);
    const long long w_off = *reinterpret_cast<const volatile long long*>(&peer->combine_w_offset);
    s_x[threadIdx.x] = reinterpret_cast<const __nv_bfloat16*>(p.heap[threadIdx.x] + x_off);
    s_w[threadIdx.x] = w_off < 0 ? nullptr : reinterpret_cast<const float*>(p.heap[threadIdx.x] + w_off);
  }
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
        src[j] = reinterpret_cast<const int4*>(s_x[j] + (long long)max(row, 0) * p.hidden);
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
          if ((present >> j & 1) && s_w[j]) {
            const int row = p.send_row[(long long)t * R + j];
            w = __fadd_rn(w, *reinterpret_cast<const volatile float*>(s_w[j] + (long long)row * p.topk + k));
          }
        p.out_weights[(long long)t * p.topk + k] = w;
      }
    }
  }

  // Every block is done reading peers: let each peer reuse its input, and wait until every
  // peer is done with ours before the op ends.
  unsigned long long n;
  const Op op = op_begin(p, kOpCombine, &Control::combine_calls, n);
  if (!last_block_done(&op.ctrl->block_counter[0])) return;
  if (threadIdx.x < R) signal_peer(control_of(p, threadIdx.x)->combine_done, p.rank, signal_value(op, n));
  if (threadIdx.x < R)
    wait_signal(op, op.ctrl->combine_done + threadIdx.x, n, threadIdx.x, kWaitCombineDone, p.timeout_ns, false);
  __syncthreads();
  if (threadIdx.x == 0) {
    op.ctrl->combine_calls = n;
    op_end(op);
  }
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
