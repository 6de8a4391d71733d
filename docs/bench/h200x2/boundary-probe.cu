// Kernel-boundary probe: per-launch GPU time of back-to-back launches of a 132 x 512 kernel that
// does (almost) nothing, with variations: a host-mapped stamp written at the end, an event
// recorded between launches, a CUDA graph of the launches. Session 10 added three endings (not
// run yet): the host stamp as a relaxed store, as a volatile store, and a system fence alone, to
// tell what the release's 1.5 us per boundary is made of.
#include <cstdio>
#include <cuda_runtime.h>
#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

__global__ void __launch_bounds__(512) k(unsigned long long* host, unsigned long long* dev, int stamp, unsigned long long v) {
  __shared__ int s[8192];
  s[threadIdx.x] = threadIdx.x;
  __syncthreads();
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    dev[0] = v + s[1];
    if (stamp == 1) asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(host), "l"(v) : "memory");
    if (stamp == 2) asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(dev + 16), "l"(v) : "memory");
    if (stamp == 3) asm volatile("st.relaxed.sys.global.u64 [%0], %1;" ::"l"(host), "l"(v) : "memory");
    if (stamp == 4) asm volatile("st.volatile.global.u64 [%0], %1;" ::"l"(host), "l"(v) : "memory");
    if (stamp == 5) asm volatile("fence.sc.sys;" ::: "memory");
  }
}

// The same body with one block per SM (120 KiB of dynamic shared memory, as the low-latency
// kernels' registers allow) for the programmatic-dependent-launch rows: pdl = 1 waits for the
// previous grid (griddepcontrol.wait) after letting the next one launch (launch_dependents).
__global__ void __launch_bounds__(512) kx(unsigned long long* host, unsigned long long* dev, int stamp, unsigned long long v, int pdl) {
  extern __shared__ int xs[];
  if (pdl) asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
  if (pdl) asm volatile("griddepcontrol.wait;" ::: "memory");
  xs[threadIdx.x] = threadIdx.x;
  __syncthreads();
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    dev[0] = v + xs[1];
    if (stamp == 1) asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(host), "l"(v) : "memory");
    if (stamp == 3) asm volatile("st.relaxed.sys.global.u64 [%0], %1;" ::"l"(host), "l"(v) : "memory");
  }
}

static cudaError_t launch_x(cudaStream_t s, unsigned long long* host, unsigned long long* dev, int stamp, unsigned long long v, int pdl) {
  cudaLaunchConfig_t c = {};
  c.gridDim = dim3(132); c.blockDim = dim3(512); c.dynamicSmemBytes = 120 * 1024; c.stream = s;
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at[0].val.programmaticStreamSerializationAllowed = 1;
  c.attrs = at; c.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&c, kx, host, dev, stamp, v, pdl);
}

int main() {
  unsigned long long *host, *hostDev, *dev;
  CK(cudaHostAlloc(&host, 4096, cudaHostAllocMapped));
  CK(cudaHostGetDevicePointer((void**)&hostDev, host, 0));
  CK(cudaMalloc(&dev, 4096));
  cudaStream_t s; CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaEvent_t a, b, mid[64];
  CK(cudaEventCreate(&a)); CK(cudaEventCreate(&b));
  for (int i = 0; i < 64; i++) CK(cudaEventCreateWithFlags(&mid[i], cudaEventDisableTiming));
  const int N = 200;
  const char* names[] = {"plain", "host stamp", "device sys stamp", "host relaxed", "host volatile", "sys fence"};
  for (int stamp = 0; stamp < 6; stamp++) {
    for (int ev = 0; ev < 2; ev++) {
      float best = 1e9;
      for (int rep = 0; rep < 5; rep++) {
        CK(cudaEventRecord(a, s));
        for (int i = 0; i < N; i++) {
          k<<<132, 512, 0, s>>>(hostDev, dev, stamp, i);
          if (ev) CK(cudaEventRecord(mid[i % 64], s));
        }
        CK(cudaEventRecord(b, s));
        CK(cudaEventSynchronize(b));
        float ms; CK(cudaEventElapsedTime(&ms, a, b));
        if (ms < best) best = ms;
      }
      printf("%-17s %-13s %6.2f us per launch\n", names[stamp], ev ? "+ event" : "", best * 1000 / N);
    }
    // graph of N launches
    cudaGraph_t g; cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    for (int i = 0; i < N; i++) k<<<132, 512, 0, s>>>(hostDev, dev, stamp, i);
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    float best = 1e9;
    for (int rep = 0; rep < 5; rep++) {
      CK(cudaEventRecord(a, s)); CK(cudaGraphLaunch(ge, s)); CK(cudaEventRecord(b, s)); CK(cudaEventSynchronize(b));
      float ms; CK(cudaEventElapsedTime(&ms, a, b)); if (ms < best) best = ms;
    }
    printf("%-17s %-13s %6.2f us per launch\n", names[stamp], "graph", best * 1000 / N);
  }
  // the same plain kernel, 1 block
  float best = 1e9;
  for (int rep = 0; rep < 5; rep++) {
    CK(cudaEventRecord(a, s));
    for (int i = 0; i < N; i++) k<<<1, 512, 0, s>>>(hostDev, dev, 0, i);
    CK(cudaEventRecord(b, s)); CK(cudaEventSynchronize(b));
    float ms; CK(cudaEventElapsedTime(&ms, a, b)); if (ms < best) best = ms;
  }
  printf("%-17s %-13s %6.2f us per launch\n", "plain, 1 block", "", best * 1000 / N);
  // one block per SM, with and without programmatic dependent launch, stream and graph
  CK(cudaFuncSetAttribute(kx, cudaFuncAttributeMaxDynamicSharedMemorySize, 120 * 1024));
  const int xstamps[] = {0, 1, 3};
  const char* xnames[] = {"excl plain", "excl host stamp", "excl relaxed"};
  for (int si = 0; si < 3; si++)
    for (int pdl = 0; pdl < 2; pdl++) {
      float bs = 1e9, bg = 1e9;
      for (int rep = 0; rep < 5; rep++) {
        CK(cudaEventRecord(a, s));
        for (int i = 0; i < N; i++) CK(launch_x(s, hostDev, dev, xstamps[si], i, pdl));
        CK(cudaEventRecord(b, s)); CK(cudaEventSynchronize(b));
        float ms; CK(cudaEventElapsedTime(&ms, a, b)); if (ms < bs) bs = ms;
      }
      cudaGraph_t g; cudaGraphExec_t ge;
      CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
      for (int i = 0; i < N; i++) CK(launch_x(s, hostDev, dev, xstamps[si], i, pdl));
      CK(cudaStreamEndCapture(s, &g));
      CK(cudaGraphInstantiate(&ge, g, 0));
      for (int rep = 0; rep < 5; rep++) {
        CK(cudaEventRecord(a, s)); CK(cudaGraphLaunch(ge, s)); CK(cudaEventRecord(b, s)); CK(cudaEventSynchronize(b));
        float ms; CK(cudaEventElapsedTime(&ms, a, b)); if (ms < bg) bg = ms;
      }
      printf("%-17s %-13s %6.2f us per launch, graph %6.2f\n", xnames[si], pdl ? "pdl" : "", bs * 1000 / N, bg * 1000 / N);
    }
  return 0;
}
