// Pull probe (session 9): can the low-latency combine read its peers' rows over NVLink (and sum
// them as they arrive) instead of having them written into its buffer and fenced?
// nvcc -std=c++17 -O3 -arch=sm_90a -o pull pull-probe.cu && ./pull   (results: pull-probe.txt)
//
// Both GPUs run the same kernel at once (they meet on a flag before timing starts); each reports
// the time from the release to the last block's end, median of 30 reps:
//   push     each GPU writes BYTES into its peer (16-byte stores), then a system fence per block;
//   pull     each GPU reads BYTES from its peer into local memory;
//   sumLocal 128 tokens x 8 rows of 7168 bf16, all rows local, fma over k, bf16 out (the sums alone);
//   sumPull  the same with rows k odd read from the peer (what a pulling combine does);
//   stage    a local copy of BYTES (what a pulling combine's send half costs without zero-copy).
#include <cstdio>
#include <cstdint>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

__device__ __forceinline__ uint64_t now_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

constexpr int T = 128, K = 8, H = 7168;
constexpr long long ROW = H * 2;

struct Clock { unsigned long long start, end; unsigned int go; };

__device__ __forceinline__ void meet(Clock* own, unsigned int* go, unsigned int epoch) {
  if (threadIdx.x == 0) {
    if (blockIdx.x == 0) atomicAdd_system(go, 1u);
    while (*(volatile unsigned int*)go < 2 * epoch) {}
    atomicMin(&own->start, (unsigned long long)now_ns());
  }
  __syncthreads();
}

__device__ __forceinline__ void finish(Clock* own, bool fence) {
  __syncthreads();
  if (threadIdx.x == 0) {
    if (fence) __threadfence_system();
    atomicMax(&own->end, (unsigned long long)now_ns());
  }
}

__global__ void __launch_bounds__(512) k_copy(const int4* src, int4* dst, long long n16, Clock* c, unsigned* go, unsigned epoch,
                                              int fence) {
  meet(c, go, epoch);
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n16; i += 4 * stride) {
    int4 a = src[i], b = src[i + stride], d = src[i + 2 * stride], e = src[i + 3 * stride];
    dst[i] = a; dst[i + stride] = b; dst[i + 2 * stride] = d; dst[i + 3 * stride] = e;
  }
  for (; i < n16; i += stride) dst[i] = src[i];
  finish(c, fence);
}

// Unit = (token, 256 channels): a lane holds 8 channels. Rows (t, k): k even from `even`, odd from `odd`.
__global__ void __launch_bounds__(512) k_sum(const __nv_bfloat16* even, const __nv_bfloat16* odd, const float* w,
                                             __nv_bfloat16* out, Clock* c, unsigned* go, unsigned epoch) {
  meet(c, go, epoch);
  const int lane = threadIdx.x & 31;
  const long long warps = (long long)gridDim.x * (blockDim.x >> 5);
  const int parts = H / 256;
  for (long long u = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); u < T * parts; u += warps) {
    const int t = (int)(u / parts), c0 = (int)(u % parts) * 256 + lane * 8;
    int4 v[K];
#pragma unroll
    for (int k = 0; k < K; k++) {
      const __nv_bfloat16* base = (k & 1) ? odd : even;
      v[k] = *reinterpret_cast<const int4*>(base + ((long long)(t * K + k)) * H + c0);
    }
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
    for (int k = 0; k < K; k++) {
      const float wk = w[t * K + k];
      const __nv_bfloat16* h = reinterpret_cast<const __nv_bfloat16*>(&v[k]);
#pragma unroll
      for (int j = 0; j < 8; j++) acc[j] = fmaf(wk, __bfloat162float(h[j]), acc[j]);
    }
    int4 o;
    __nv_bfloat16* ho = reinterpret_cast<__nv_bfloat16*>(&o);
#pragma unroll
    for (int j = 0; j < 8; j++) ho[j] = __float2bfloat16_rn(acc[j]);
    *reinterpret_cast<int4*>(out + (long long)t * H + c0) = o;
  }
  finish(c, false);
}

int main() {
  const long long BYTES = (long long)T * K / 2 * ROW;  // 7.3 MB: the rows one rank sends its peer
  const long long ALL = (long long)T * K * ROW;
  void *src[2], *dst[2], *rows[2], *out[2];
  float* w[2];
  Clock* clk[2];
  unsigned* go;  // on GPU 0, mapped by both
  cudaStream_t st[2];
  for (int d = 0; d < 2; d++) {
    CK(cudaSetDevice(d));
    CK(cudaDeviceEnablePeerAccess(1 - d, 0));
    CK(cudaMalloc(&src[d], ALL));
    CK(cudaMalloc(&dst[d], ALL));
    CK(cudaMalloc(&rows[d], ALL));
    CK(cudaMalloc(&out[d], (long long)T * H * 2));
    CK(cudaMalloc(&w[d], T * K * 4));
    CK(cudaMalloc(&clk[d], sizeof(Clock)));
    CK(cudaMemset(src[d], 0x3c, ALL));
    CK(cudaMemset(rows[d], 0x3c, ALL));
    CK(cudaMemset(w[d], 0, T * K * 4));
    CK(cudaStreamCreateWithFlags(&st[d], cudaStreamNonBlocking));
    if (d == 0) { CK(cudaMalloc(&go, 4)); CK(cudaMemset(go, 0, 4)); }
  }
  for (int d = 0; d < 2; d++) { CK(cudaSetDevice(d)); CK(cudaDeviceSynchronize()); }
  const char* names[] = {"push", "pull", "sumLocal", "sumPull", "stage"};
  unsigned epoch = 0;
  for (int mode = 0; mode < 5; mode++) {
    std::vector<double> times[2];
    for (int rep = 0; rep < 33; rep++) {
      epoch++;
      for (int d = 0; d < 2; d++) {
        CK(cudaSetDevice(d));
        Clock init = {~0ull, 0ull, 0u};
        CK(cudaMemcpyAsync(clk[d], &init, 16, cudaMemcpyHostToDevice, st[d]));
      }
      for (int d = 0; d < 2; d++) { CK(cudaSetDevice(d)); CK(cudaStreamSynchronize(st[d])); }
      for (int d = 0; d < 2; d++) {
        CK(cudaSetDevice(d));
        const int p = 1 - d;
        switch (mode) {
          case 0: k_copy<<<132, 512, 0, st[d]>>>((int4*)src[d], (int4*)dst[p], BYTES / 16, clk[d], go, epoch, 1); break;
          case 1: k_copy<<<132, 512, 0, st[d]>>>((int4*)src[p], (int4*)dst[d], BYTES / 16, clk[d], go, epoch, 0); break;
          case 2: k_sum<<<132, 512, 0, st[d]>>>((__nv_bfloat16*)rows[d], (__nv_bfloat16*)rows[d], w[d], (__nv_bfloat16*)out[d], clk[d], go, epoch); break;
          case 3: k_sum<<<132, 512, 0, st[d]>>>((__nv_bfloat16*)rows[d], (__nv_bfloat16*)rows[p], w[d], (__nv_bfloat16*)out[d], clk[d], go, epoch); break;
          case 4: k_copy<<<132, 512, 0, st[d]>>>((int4*)src[d], (int4*)dst[d], BYTES / 16, clk[d], go, epoch, 0); break;
        }
        CK(cudaGetLastError());
      }
      for (int d = 0; d < 2; d++) {
        CK(cudaSetDevice(d));
        CK(cudaStreamSynchronize(st[d]));
        Clock h;
        CK(cudaMemcpy(&h, clk[d], 16, cudaMemcpyDeviceToHost));
        if (rep >= 3) times[d].push_back((h.end - h.start) / 1000.0);
      }
    }
    printf("%-9s", names[mode]);
    for (int d = 0; d < 2; d++) {
      std::sort(times[d].begin(), times[d].end());
      const double med = times[d][times[d].size() / 2];
      const double bytes = mode == 2 || mode == 3 ? (double)ALL : (double)BYTES;
      printf("  GPU %d: median %7.2f us  min %7.2f  (%.0f GB/s over %.1f MB)", d, med, times[d][0], bytes / (med * 1e3), bytes / 1e6);
    }
    printf("\n");
  }
  return 0;
}
