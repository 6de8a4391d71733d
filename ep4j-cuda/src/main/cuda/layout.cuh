// Dispatch layout (DESIGN 2.1): which ranks each token goes to, and per-rank / per-expert counts.
#pragma once
#include "common.cuh"

namespace ep4j {

constexpr int kLayoutMaxSharedExperts = 4096;
constexpr int kLayoutRegisterSlots = 16;

}  // namespace ep4j

// A thread per token. Histograms go through shared memory first, so global atomics are one
// per (block, expert) rather than one per (token, slot).
extern "C" __global__ void __launch_bounds__(ep4j::kLayoutThreads) ep4j_layout(const __grid_constant__ ep4j::LayoutParams p) {
  using namespace ep4j;
  __shared__ int s_expert[kLayoutMaxSharedExperts];
  __shared__ int s_rank[kMaxRanks];
  const bool shared_hist = p.num_experts <= kLayoutMaxSharedExperts;
  if (shared_hist)
    for (int e = threadIdx.x; e < p.num_experts; e += blockDim.x) s_expert[e] = 0;
  if (threadIdx.x < kMaxRanks) s_rank[threadIdx.x] = 0;
  __syncthreads();

  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t < p.num_tokens) {
    const long long base = (long long)t * p.topk;
    // All of the token's slots are loaded before any is used, so their latencies overlap
    // (up to kLayoutRegisterSlots; wider top-k reads the rest as it goes).
    long long slots[kLayoutRegisterSlots];
#pragma unroll
    for (int k = 0; k < kLayoutRegisterSlots; k++)
      slots[k] = k < p.topk ? topk_at(p.topk_idx, p.idx_is_64, base + k) : -1;
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
    for (int k = 0; k < p.topk; k++) {
      const long long e = slot(k);
      if (e == -1) continue;
      if (e < -1 || e >= p.num_experts) {
        record_error(p.error, kExpertOutOfRange, kOpLayout, -1, e, p.num_experts, base + k);
        continue;
      }
      bool seen = false;  // a token counts once per expert even if a slot repeats it
      for (int j = 0; j < k; j++) seen |= slot(j) == e;
      if (seen) continue;
      if (shared_hist) atomicAdd(&s_expert[e], 1);
      else atomicAdd(&p.tokens_per_expert[e], 1);
      mask |= 1u << (int)(e / p.local_experts);
    }
    for (int r = 0; r < p.ranks; r++) {
      const bool in = (mask >> r) & 1u;
      p.is_token_in_rank[(long long)t * p.ranks + r] = in;
      if (in) atomicAdd(&s_rank[r], 1);
    }
  }
  __syncthreads();
  if (shared_hist)
    for (int e = threadIdx.x; e < p.num_experts; e += blockDim.x)
      if (s_expert[e]) atomicAdd(&p.tokens_per_expert[e], s_expert[e]);
  if (threadIdx.x < p.ranks && s_rank[threadIdx.x]) atomicAdd(&p.tokens_per_rank[threadIdx.x], s_rank[threadIdx.x]);
}
