// LL128 probe: can the low-latency combine's home sum rows as they land, with completion carried
// inside the data instead of a fence and a count? Each 128-byte line holds 120 bytes of payload
// and an 8-byte flag (the iteration's number); one warp store instruction writes four whole lines
// (eight lanes of 16 bytes each), and a reader that loads a line the same way and sees the flag
// takes the payload as complete. This is NCCL's LL128 idea; whether a line written that way over
// NVLink is ever seen torn is what this probe counts (CUDA does not document it).
//
// Both GPUs run one kernel at once: blocks [0, W) write ROWS rows of LINES lines into the peer's
// buffer (the combine's 7.3 MB of payload per direction, 7.9 MB with the flags), blocks [W, 2W)
// read the rows the peer writes into this GPU's buffer, in the order they are written, and check
// every payload word. Mode "fenced" is the pushed combine's protocol for comparison: plain stores,
// then every writer block fences and adds one to the peer's count; readers wait for all W counts,
// then read. Reported per mode: torn lines (payload not matching a line whose flag was seen),
// timeouts, and the median over iterations of the event time of the launch pair and of the time
// from the last block's start to the last line consumed (%globaltimer on the reading GPU), after
// every block of both grids has met at a barrier (a host-mapped gate, then counts on both GPUs).
//
// nvcc -std=c++17 -O3 -arch=sm_90a -o ll128 ll128-probe.cu && ./ll128
#include <algorithm>
#include <cstdio>
#include <vector>
#include <cuda_runtime.h>
#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

constexpr int kRows = 512;          // rows one GPU sends its peer (128 tokens x 8 slots / 2)
constexpr int kLines = 120;         // 120 x 120 bytes = 14400 >= 14336 (hidden 7168 bf16)
constexpr int kGroups = kLines / 4; // four lines per warp store
constexpr int kUnits = kRows * kGroups;
constexpr int kBlocksPerRole = 66;
constexpr int kThreads = 512;
constexpr long long kTimeoutNs = 2000000000LL;

struct Stats {
  unsigned long long torn, timeouts, start_ns, last_ns;
};

__device__ __forceinline__ unsigned long long now_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ __forceinline__ unsigned long long payload(unsigned int iter, int row, int line, int word) {
  unsigned long long v = (unsigned long long)(iter * 2654435761u) << 32 | (unsigned int)(row * 40503 + line * 131 + word);
  return v ^ 0x9E3779B97F4A7C15ull;
}

__device__ __forceinline__ void store_line_pair(unsigned long long* p, unsigned long long a, unsigned long long b) {
  asm volatile("st.volatile.global.v2.u64 [%0], {%1, %2};" ::"l"(p), "l"(a), "l"(b) : "memory");
}

__device__ __forceinline__ void load_line_pair(const unsigned long long* p, unsigned long long& a, unsigned long long& b) {
  asm volatile("ld.volatile.global.v2.u64 {%0, %1}, [%2];" : "=l"(a), "=l"(b) : "l"(p) : "memory");
}

// mode 0: LL128 lines; mode 1: plain stores, fence and count per writer block; mode 2: LL128
// lines into this GPU's own buffer (writers and readers on one GPU, through its L2).
__global__ void __launch_bounds__(kThreads) probe(unsigned long long* peer_buf, const unsigned long long* my_buf,
                                                  unsigned long long* peer_count, const unsigned long long* my_count,
                                                  unsigned int iter, int mode, Stats* stats, const volatile unsigned int* gate,
                                                  unsigned int launch, unsigned long long* peer_arrive,
                                                  unsigned long long* my_arrive) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = kThreads / 32;
  const int line_in_group = lane >> 3, sub = lane & 7;
  // Both GPUs' grids start together: every block waits for the host to open the gate, then
  // counts itself in on both GPUs and waits until every block of both grids has (launch n of the
  // run: 2 * gridDim.x * n arrivals on each GPU).
  if (threadIdx.x == 0) {
    while (*gate != launch) {
    }
    atomicAdd_system(peer_arrive, 1ull);
    atomicAdd_system(my_arrive, 1ull);
    const unsigned long long target = 2ull * gridDim.x * launch;
    while (*(volatile const unsigned long long*)my_arrive < target) {
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) atomicMin(&stats->start_ns, now_ns());
  if (blockIdx.x < kBlocksPerRole) {  // writer
    const int w = blockIdx.x * warps + warp, W = kBlocksPerRole * warps;
    for (int u = w; u < kUnits; u += W) {
      const int row = u / kGroups, line = (u % kGroups) * 4 + line_in_group;
      unsigned long long* dst = mode == 2 ? const_cast<unsigned long long*>(my_buf) : peer_buf;
      unsigned long long* p = dst + ((long long)row * kLines + line) * 16 + sub * 2;
      const unsigned long long a = payload(iter, row, line, sub * 2);
      const unsigned long long b = sub == 7 ? (unsigned long long)iter : payload(iter, row, line, sub * 2 + 1);
      store_line_pair(p, a, b);
    }
    if (mode == 1) {
      __syncthreads();
      if (threadIdx.x == 0) {
        __threadfence_system();
        atomicAdd_system(peer_count, 1ull);
      }
    }
    return;
  }
  // reader
  const int w = (blockIdx.x - kBlocksPerRole) * warps + warp, W = kBlocksPerRole * warps;
  const unsigned long long t0 = now_ns();
  if (mode == 1) {
    const unsigned long long target = (unsigned long long)iter * kBlocksPerRole;
    while (*(volatile const unsigned long long*)my_count < target) {
      if ((long long)(now_ns() - t0) > kTimeoutNs) {
        if (lane == 0) atomicAdd(&stats->timeouts, 1ull);
        return;
      }
    }
  }
  unsigned long long torn = 0;
  for (int u = w; u < kUnits; u += W) {
    const int row = u / kGroups, line = (u % kGroups) * 4 + line_in_group;
    const unsigned long long* p = my_buf + ((long long)row * kLines + line) * 16 + sub * 2;
    unsigned long long a, b;
    for (;;) {
      load_line_pair(p, a, b);
      const unsigned long long flag = __shfl_sync(0xffffffffu, b, lane | 7);
      if (mode == 1 || !__any_sync(0xffffffffu, flag != iter)) break;
      if ((long long)(now_ns() - t0) > kTimeoutNs) {
        if (lane == 0) atomicAdd(&stats->timeouts, 1ull);
        return;
      }
    }
    if (a != payload(iter, row, line, sub * 2)) torn++;
    if (sub != 7 && b != payload(iter, row, line, sub * 2 + 1)) torn++;
  }
  if (torn) atomicAdd(&stats->torn, torn);
  __syncwarp();
  if (lane == 0) atomicMax(&stats->last_ns, now_ns());
}

int main() {
  int n = 0;
  CK(cudaGetDeviceCount(&n));
  if (n < 2) { printf("needs 2 GPUs\n"); return 1; }
  const size_t bytes = (size_t)kRows * kLines * 128;
  unsigned long long* buf[2]; unsigned long long* count[2]; unsigned long long* arrive[2]; Stats* st[2]; Stats host[2];
  unsigned int launches = 0;
  unsigned int* gate;
  CK(cudaHostAlloc(&gate, 64, cudaHostAllocMapped | cudaHostAllocPortable));
  *(volatile unsigned int*)gate = 0;
  cudaStream_t s[2]; cudaEvent_t a[2], b[2];
  for (int g = 0; g < 2; g++) {
    CK(cudaSetDevice(g));
    CK(cudaDeviceEnablePeerAccess(1 - g, 0));
    CK(cudaMalloc(&buf[g], bytes)); CK(cudaMemset(buf[g], 0, bytes));
    CK(cudaMalloc(&count[g], 8)); CK(cudaMemset(count[g], 0, 8));
    CK(cudaMalloc(&arrive[g], 8)); CK(cudaMemset(arrive[g], 0, 8));
    CK(cudaMalloc(&st[g], sizeof(Stats)));
    CK(cudaStreamCreateWithFlags(&s[g], cudaStreamNonBlocking));
    CK(cudaEventCreate(&a[g])); CK(cudaEventCreate(&b[g]));
  }
  const char* names[] = {"ll128 lines", "fenced count", "ll128 local"};
  const int iters = 1000;
  unsigned int iter = 0;
  for (int mode = 0; mode < 3; mode++) {
    for (int g = 0; g < 2; g++) { CK(cudaSetDevice(g)); CK(cudaMemset(count[g], 0, 8)); CK(cudaDeviceSynchronize()); }
    unsigned long long torn = 0, timeouts = 0;
    std::vector<float> ev; std::vector<double> span;
    for (int i = 1; i <= iters; i++) {
      const unsigned int it = mode == 1 ? (unsigned int)i : ++iter;  // modes 0 and 2 continue the flags
      const Stats init = {0, 0, ~0ull, 0};
      launches++;
      for (int g = 0; g < 2; g++) {
        CK(cudaSetDevice(g));
        CK(cudaMemcpyAsync(st[g], &init, sizeof(Stats), cudaMemcpyHostToDevice, s[g]));
        CK(cudaEventRecord(a[g], s[g]));
        probe<<<2 * kBlocksPerRole, kThreads, 0, s[g]>>>(buf[1 - g], buf[g], count[1 - g], count[g], it, mode, st[g],
                                                         gate, launches, arrive[1 - g], arrive[g]);
        CK(cudaEventRecord(b[g], s[g]));
      }
      *(volatile unsigned int*)gate = launches;
      for (int g = 0; g < 2; g++) {
        CK(cudaSetDevice(g)); CK(cudaEventSynchronize(b[g]));
        CK(cudaMemcpy(&host[g], st[g], sizeof(Stats), cudaMemcpyDeviceToHost));
        float ms; CK(cudaEventElapsedTime(&ms, a[g], b[g]));
        torn += host[g].torn; timeouts += host[g].timeouts;
        if (i > 50) { ev.push_back(ms * 1000); span.push_back((host[g].last_ns - host[g].start_ns) / 1e3); }
      }
    }
    std::sort(ev.begin(), ev.end()); std::sort(span.begin(), span.end());
    printf("%-13s torn words %llu, timeouts %llu, event time median %.1f us (the gate's wait in it), barrier to last line read median %.1f us (p10 %.1f, p90 %.1f)\n",
           names[mode], torn, timeouts, ev[ev.size() / 2], span[span.size() / 2], span[span.size() / 10], span[span.size() * 9 / 10]);
  }
  printf("payload %.2f MB per direction in %d rows of %d lines (%.2f MB with the flags)\n",
         kRows * kLines * 120 / 1e6, kRows, kLines, bytes / 1e6);
  return 0;
}
