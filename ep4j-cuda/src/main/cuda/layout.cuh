// Dispatch layout (DESIGN 2.1): which ranks each token goes to, and per-rank / per-expert
// counts. Local to the rank (no peer), one launch, one op.
#pragma once
#include "control.cuh"

namespace ep4j {

constexpr int kLayoutRegisterSlots = 16;

}  // namespace ep4j

// A thread per token (grid-stride over at most kLayoutMaxBlocks blocks). Each block counts into
// shared memory and writes its partial histograms; the last block to finish sums them in block
// order, so nothing needs zeroing before the launch and the counts take one pass.
extern "C" __global__ void __launch_bounds__(ep4j::kLayoutThreads) ep4j_layout(const __grid_constant__ ep4j::LayoutParams p) {
  using namespace ep4j;
  __shared__ int s_expert[kMaxExperts];
  __shared__ int s_rank[kMaxRanks];
  const Op op = op_begin(p, kOpLayout);
  const int E = p.num_experts, R = p.ranks, K = p.topk;
  for (int e = threadIdx.x; e < E; e += blockDim.x) s_expert[e] = 0;
  if (threadIdx.x < kMaxRanks) s_rank[threadIdx.x] = 0;
  __syncthreads();

  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < p.num_tokens; t += gridDim.x * blockDim.x) {
    const long long base = (long long)t * K;
    // All of the token's slots are loaded before any is used, so their latencies overlap
    // (up to kLayoutRegisterSlots; wider top-k reads the rest as it goes).
    long long slots[kLayoutRegisterSlots];
#pragma unroll
    for (int k = 0; k < kLayoutRegisterSlots; k++) slots[k] = k < K ? topk_at(p.topk_idx, p.idx_is_64, base + k) : -1;
    auto slot = [&](int k) -> long long {
      if (k < kLayoutRegisterSlots) {
        long long v = -1;
#pragma unroll
        for (int i = 0; i < kLayoutRegisterSlots; i++)
          if (i == k) v = slots[i];
        return v;
      }
      return topk_at(p.topk_idx, p.idx_is_64, base + k);
    };
    unsigned int mask = 0;
    for (int k = 0; k < K; k++) {
      const long long e = slot(k);
      if (e == -1) continue;
      if (e < -1 || e >= E) {
        op_error(op, kExpertOutOfRange, -1, e, E, base + k);
        continue;
      }
      bool seen = false;  // a token counts once per expert even if a slot repeats it
      for (int j = 0; j < k; j++) seen |= slot(j) == e;
      if (seen) continue;
      atomicAdd(&s_expert[e], 1);
      mask |= 1u << (int)(e / p.local_experts);
    }
    for (int r = 0; r < R; r++) {
      const bool in = (mask >> r) & 1u;
      p.is_token_in_rank[(long long)t * R + r] = in;
      if (in) atomicAdd(&s_rank[r], 1);
    }
  }
  __syncthreads();
  int* mine = p.partials + (long long)blockIdx.x * (E + R);
  for (int e = threadIdx.x; e < E; e += blockDim.x) mine[e] = s_expert[e];
  if (threadIdx.x < R) mine[E + threadIdx.x] = s_rank[threadIdx.x];

  if (!last_block_done(&op.ctrl->block_counter[0])) return;
  for (int i = threadIdx.x; i < E + R; i += blockDim.x) {
    int sum = 0;
    for (int b = 0; b < (int)gridDim.x; b++) sum += *reinterpret_cast<volatile int*>(p.partials + (long long)b * (E + R) + i);
    if (i < E) p.tokens_per_expert[i] = sum;
    else p.tokens_per_rank[i - E] = sum;
  }
  __syncthreads();
  if (threadIdx.x == 0) op_end(op);
}
