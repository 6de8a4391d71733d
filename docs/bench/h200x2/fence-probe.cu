// Fence probe (session 8, for session 9): what a system fence costs while a grid streams rows to a
// peer over NVLink, by who fences; and the LL dispatch's bulk top-k staging sequence in isolation.
// nvcc -std=c++17 -O3 -arch=sm_90a -I ../../../ep4j-cuda/src/main/cuda -o fence fence-probe.cu && ./fence   (results: fence-probe.txt)
//
// Part 1: GPU 0 writes TOTAL bytes into GPU 1 (132 blocks x 16 warps, 16-byte stores), in G rounds;
// each warp writes its share of a round, then by mode:
//   0 none: no fence until the end (one per block after __syncthreads): the combine today;
//   1 block: the block's warps meet (bar.sync) and thread 0 fences: session 8's rounds;
//   2 warp: lane 0 of every warp fences after its own stores, no barrier.
// Per round it records, for warp 0 of every block, when its fence returned (us after the kernel's
// first block began); the median and last over blocks tell how long a round's fence lags.
// Part 2: 132 x 512 blocks; thread 32 initialises an mbarrier, arms it for 8 KiB and bulk-copies
// 8 KiB of int64 into a 128-byte aligned shared union, as ll_dispatch_early did; after two
// __syncthreads the other threads wait on the barrier (bounded by %globaltimer) and check the sum.
#include <cstdio>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#include "bulk.cuh"
#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

__device__ __forceinline__ uint64_t now_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

constexpr int kRounds = 4;

__global__ void __launch_bounds__(512) writer(int4* peer, long long per_warp_round, int mode, uint64_t* start,
                                              uint64_t* stamps) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (blockIdx.x == 0 && threadIdx.x == 0) atomicMin((unsigned long long*)start, (unsigned long long)now_ns());
  const long long warps = (long long)gridDim.x * 16;
  const long long w = (long long)blockIdx.x * 16 + warp;
  const long long n16 = per_warp_round / 16;
  for (int g = 0; g < kRounds; g++) {
    int4* dst = peer + ((long long)g * warps + w) * n16;
    for (long long i = lane; i < n16; i += 32) dst[i] = make_int4(g, (int)w, (int)i, 7);
    if (mode == 1) {
      __syncthreads();
      if (threadIdx.x == 0) __threadfence_system();
    } else if (mode == 2) {
      if (lane == 0) __threadfence_system();
      __syncwarp();
    }
    if (threadIdx.x == 0) stamps[blockIdx.x * kRounds + g] = now_ns();
  }
  __syncthreads();
  if (threadIdx.x == 0) __threadfence_system();
}

union Staged {
  int topk[8192];
  long long topk64[4096];
  int off[4097];
};

__global__ void __launch_bounds__(512) bulk_probe(const long long* src, int count, int* bad) {
  __shared__ __align__(128) Staged sm;
  __shared__ uint64_t bar;
  if (threadIdx.x == 32) {
    ep4j::barrier_init(&bar, 1);
    ep4j::barrier_init_fence();
    ep4j::barrier_expect_bytes(&bar, (uint32_t)(count * 8));
    ep4j::bulk_load(sm.topk, src, (uint32_t)(count * 8), &bar);
  }
  __syncthreads();
  __syncthreads();
  if (threadIdx.x >= 32) {
    const uint64_t t0 = now_ns();
    while (!ep4j::barrier_try_wait(&bar, 0u)) {
      if (now_ns() - t0 > 100000000ull) {  // 100 ms
        atomicAdd(bad, 1000000);
        return;
      }
    }
    long long s = 0;
    for (int i = threadIdx.x - 32; i < count; i += 480) s += sm.topk64[i] - i;
    if (s != 0) atomicAdd(bad, 1);
  }
}

int main() {
  const long long TOTAL = 7LL << 20;  // about the combine's 7.3 MB
  CK(cudaSetDevice(1));
  int4* peer;
  CK(cudaMalloc(&peer, TOTAL + (1 << 20)));
  CK(cudaSetDevice(0));
  CK(cudaDeviceEnablePeerAccess(1, 0));
  uint64_t *start, *stamps;
  CK(cudaMalloc(&start, 8));
  CK(cudaMalloc(&stamps, 132 * kRounds * 8));
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  const long long per_warp_round = (TOTAL / (132LL * 16 * kRounds)) / 16 * 16;
  const char* names[] = {"none", "block", "warp"};
  for (int mode = 0; mode < 3; mode++) {
    float best = 1e9;
    std::vector<uint64_t> h(132 * kRounds), hs(1);
    for (int rep = 0; rep < 20; rep++) {
      CK(cudaMemset(start, 0xFF, 8));
      CK(cudaEventRecord(a));
      writer<<<132, 512>>>(peer, per_warp_round, mode, start, stamps);
      CK(cudaEventRecord(b));
      CK(cudaEventSynchronize(b));
      float ms;
      CK(cudaEventElapsedTime(&ms, a, b));
      if (ms < best && rep > 2) {
        best = ms;
        CK(cudaMemcpy(h.data(), stamps, h.size() * 8, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(hs.data(), start, 8, cudaMemcpyDeviceToHost));
      }
    }
    printf("mode %-5s  %lld bytes in %d rounds: %7.2f us (%.0f GB/s)   round end, us after start (median / last block):",
           names[mode], per_warp_round * 132 * 16 * kRounds, kRounds, best * 1000,
           per_warp_round * 132 * 16 * kRounds / (best * 1e6));
    for (int g = 0; g < kRounds; g++) {
      std::vector<double> v;
      for (int blk = 0; blk < 132; blk++) v.push_back((double)(h[blk * kRounds + g] - hs[0]) / 1000.0);
      std::sort(v.begin(), v.end());
      printf("  %.2f / %.2f", v[66], v[131]);
    }
    printf("\n");
  }
  // Part 2
  const int count = 1024;
  std::vector<long long> topk(count);
  for (int i = 0; i < count; i++) topk[i] = i;
  long long* src;
  int* bad;
  CK(cudaMalloc(&src, count * 8));
  CK(cudaMalloc(&bad, 4));
  CK(cudaMemcpy(src, topk.data(), count * 8, cudaMemcpyHostToDevice));
  CK(cudaMemset(bad, 0, 4));
  for (int rep = 0; rep < 100; rep++) bulk_probe<<<132, 512>>>(src, count, bad);
  CK(cudaDeviceSynchronize());
  int hb;
  CK(cudaMemcpy(&hb, bad, 4, cudaMemcpyDeviceToHost));
  printf("bulk staging: 100 launches of 132 blocks, %s (timeouts %d, wrong sums %d)\n", hb == 0 ? "ok" : "FAILED",
         hb / 1000000, hb % 1000000);
  return 0;
}
