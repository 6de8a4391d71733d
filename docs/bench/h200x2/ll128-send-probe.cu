// LL128 send probe: why does the low-latency combine's send half deliver its LL128 lines at
// about 235 GB/s (variants-s12.txt, section 1) when ll128-probe.cu delivered them at 340 GB/s?
// The probe wrote lines it computed in registers, to the peer only; the combine loads each line's
// payload from y (8-byte loads: odd lines start 8 bytes off a 16-byte boundary), and writes half
// its rows into its own heap. Each mode below adds one of those differences, so the time it adds
// is that difference's cost.
//
// Both GPUs run one kernel at once: G writer blocks send their rows, then each fences and adds
// one to a count in the peer; one more block on the peer waits for all G counts and notes the time
// (%globaltimer) from the start, which every block of both grids meets at a barrier. Reported per
// mode and writer grid: the median over iterations of that span on both GPUs, and the rate of the
// bytes that crossed NVLink (lines with their flags, or plain rows).
//
//   0 regs       LL128 lines computed in registers, 512 rows to the peer (ll128-probe.cu's writers)
//   1 y8         the lines' payload loaded from y with 8-byte loads (the combine's send half)
//   2 y16        the same bytes loaded as aligned 16-byte pieces and moved into place by shuffles
//   3 y8 mix     mode 1, plus 512 rows into this GPU's own buffer, alternating (the combine's mix)
//   4 y8 mix weak  mode 3 with weak stores (st.global) instead of st.volatile
//   5 rows mix   plain rows (16-byte loads and stores, no flags), 512 remote and 512 local: the
//                pushed combine's send half on main
//   6 y8 mix polled       mode 3 while 65 more blocks on each GPU spin on the flags of the lines
//                         arriving there, a warp per line group, as the combine's receivers do
//                         (66 writers only: the pollers need the other SMs)
//   7 y8 mix polled 200ns  mode 6 with a 200 ns pause between two looks at a group
// (modes 6 and 7 added in session 13, after the first run: is it the polling that slows the
// token-ordered combine's senders?)
// A unit is 8 line groups (32 lines, 4 KiB) or 4 KiB of a plain row: every load of a unit is in
// flight before its first store, as in the kernels.
//
// nvcc -std=c++17 -O3 -arch=sm_90a -o ll128send ll128-send-probe.cu && ./ll128send
#include <algorithm>
#include <cstdio>
#include <vector>
#include <cuda_runtime.h>
#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("%s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

constexpr int kRows = 512;              // rows one GPU sends its peer (128 tokens x 8 slots / 2)
constexpr int kLines = 120;             // lines of a row: 120 x 120 payload bytes
constexpr int kGroups = kLines / 4;     // four lines per warp store
constexpr int kUnitGroups = 8;          // line groups per unit
constexpr int kUnitsPerRow = (kGroups + kUnitGroups - 1) / kUnitGroups;
constexpr int kPayload = kLines * 120;  // 14400 bytes of y per row (hidden 7168 bf16 is 14336)
constexpr int kRowBytes = kLines * 128; // a row in lines
constexpr int kPlainUnits = (kPayload + 4095) / 4096;
constexpr int kThreads = 512;

__device__ __forceinline__ unsigned long long now_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ __forceinline__ void st_volatile(void* p, unsigned long long a, unsigned long long b) {
  asm volatile("st.volatile.global.v2.u64 [%0], {%1, %2};" ::"l"(p), "l"(a), "l"(b) : "memory");
}

__device__ __forceinline__ void st_weak(void* p, unsigned long long a, unsigned long long b) {
  asm volatile("st.global.L1::no_allocate.v2.u64 [%0], {%1, %2};" ::"l"(p), "l"(a), "l"(b) : "memory");
}

__device__ __forceinline__ unsigned long long ld_u64(const unsigned char* p) {
  unsigned long long v;
  asm("ld.global.nc.L1::no_allocate.u64 %0, [%1];" : "=l"(v) : "l"(p));
  return v;
}

__device__ __forceinline__ void ld_v2(const unsigned char* p, unsigned long long& a, unsigned long long& b) {
  asm("ld.global.nc.L1::no_allocate.v2.u64 {%0, %1}, [%2];" : "=l"(a), "=l"(b) : "l"(p));
}

// One unit of LL128 lines: row `row` of y into `dst`, line groups [8 * unit, 8 * unit + 8).
template <int kMode>
__device__ __forceinline__ void send_lines(unsigned char* dst, const unsigned char* y, int unit, unsigned long long flag,
                                           int lane) {
  const int m = lane >> 3, sub = lane & 7;
  unsigned long long a[kUnitGroups], b[kUnitGroups];
#pragma unroll
  for (int gg = 0; gg < kUnitGroups; gg++) {
    const int g = unit * kUnitGroups + gg;
    a[gg] = b[gg] = 0;
    if (kMode == 0) {
      a[gg] = (unsigned long long)g << 32 | lane;
      b[gg] = sub == 7 ? flag : a[gg] ^ 0x9E3779B97F4A7C15ull;
    } else if (kMode == 2) {
      // Lanes 0..29 load the group's 480 bytes as aligned 16-byte pieces; lane (m, sub) takes
      // bytes [120 m + 16 sub, +16) of them: piece c = that / 16, from its low or high half.
      unsigned long long lo = 0, hi = 0;
      if (g < kGroups && lane < 30) ld_v2(y + 480 * g + 16 * lane, lo, hi);
      const int o = 120 * m + 16 * sub, c = o >> 4;
      const bool odd = (o & 15) != 0;
      const unsigned long long lo_c = __shfl_sync(0xffffffffu, lo, c), hi_c = __shfl_sync(0xffffffffu, hi, c);
      const unsigned long long lo_n = __shfl_sync(0xffffffffu, lo, min(c + 1, 31));
      a[gg] = odd ? hi_c : lo_c;
      b[gg] = sub == 7 ? flag : odd ? lo_n : hi_c;
    } else if (g < kGroups) {
      const unsigned char* src = y + 120 * (4 * g + m) + 16 * sub;
      a[gg] = ld_u64(src);
      b[gg] = sub == 7 ? flag : ld_u64(src + 8);
    }
  }
#pragma unroll
  for (int gg = 0; gg < kUnitGroups; gg++) {
    const int g = unit * kUnitGroups + gg;
    if (g >= kGroups) continue;
    unsigned char* p = dst + 512 * g + 16 * lane;  // line 4g + m, piece sub
    if (kMode == 4) st_weak(p, a[gg], b[gg]); else st_volatile(p, a[gg], b[gg]);
  }
}

// One 4-KiB unit of a plain row.
__device__ __forceinline__ void send_plain(unsigned char* dst, const unsigned char* y, int unit, int lane) {
  int4 v[8];
  const int base = unit * 4096;
#pragma unroll
  for (int i = 0; i < 8; i++) {
    const int o = base + 16 * (lane + 32 * i);
    if (o < kPayload) {
      asm("ld.global.nc.L1::no_allocate.v4.s32 {%0,%1,%2,%3}, [%4];"
          : "=r"(v[i].x), "=r"(v[i].y), "=r"(v[i].z), "=r"(v[i].w) : "l"(y + o));
    }
  }
#pragma unroll
  for (int i = 0; i < 8; i++) {
    const int o = base + 16 * (lane + 32 * i);
    if (o < kPayload) {
      asm volatile("st.global.L1::no_allocate.v4.s32 [%0], {%1,%2,%3,%4};" ::"l"(dst + o), "r"(v[i].x), "r"(v[i].y),
                   "r"(v[i].z), "r"(v[i].w) : "memory");
    }
  }
}

struct Times {
  unsigned long long start_ns, done_ns;
};

// Blocks [0, G) write; block G waits for the peer's G counts of this launch.
// Blocks (G, gridDim.x) poll: each warp waits until the 4 lines of a line group of the remote
// rows landing here carry this launch's flag.
template <int kMode>
__device__ __forceinline__ void poll_lines(const unsigned char* my_buf, unsigned int launch, int poller, int pollers,
                                           int lane, int warp, int warps) {
  const int sub = lane & 7;
  for (int i = warp * pollers + poller; i < kRows * kGroups; i += pollers * warps) {
    const unsigned char* p = my_buf + (long long)(i / kGroups) * kRowBytes + 512 * (i % kGroups) + 16 * lane;
    for (;;) {
      unsigned long long a, b;
      asm volatile("ld.volatile.global.v2.u64 {%0, %1}, [%2];" : "=l"(a), "=l"(b) : "l"(p));
      if (__all_sync(0xffffffffu, sub != 7 || b == launch)) break;
      if (kMode == 7) __nanosleep(200);
    }
  }
}

template <int kMode>
__global__ void __launch_bounds__(kThreads) probe(unsigned char* peer_buf, unsigned char* my_buf, const unsigned char* y,
                                                  unsigned long long* peer_count, const unsigned long long* my_count,
                                                  unsigned int launch, Times* t, const volatile unsigned int* gate,
                                                  unsigned long long* peer_arrive, unsigned long long* my_arrive,
                                                  int writers) {
  const int G = writers;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = kThreads / 32;
  if (threadIdx.x == 0) {
    while (*gate != launch) {
    }
    atomicAdd_system(peer_arrive, 1ull);
    atomicAdd_system(my_arrive, 1ull);
    const unsigned long long target = 2ull * gridDim.x * launch;
    while (*(volatile const unsigned long long*)my_arrive < target) {
    }
    atomicMin(&t->start_ns, now_ns());
  }
  __syncthreads();
  if ((int)blockIdx.x == G) {
    if (threadIdx.x == 0) {
      const unsigned long long target = (unsigned long long)G * launch;
      while (*(volatile const unsigned long long*)my_count < target) {
      }
      t->done_ns = now_ns();
    }
    return;
  }
  if ((int)blockIdx.x > G) {
    poll_lines<kMode>(my_buf, launch, blockIdx.x - G - 1, gridDim.x - G - 1, lane, warp, warps);
    return;
  }
  const bool mix = kMode >= 3;
  const int rows = mix ? 2 * kRows : kRows;
  const int units_per_row = kMode == 5 ? kPlainUnits : kUnitsPerRow;
  const int units = rows * units_per_row;
  for (int u = warp * G + blockIdx.x; u < units; u += G * warps) {
    const int row = u / units_per_row, unit = u % units_per_row;
    const bool remote = !mix || (row & 1) == 0;
    const int slot = mix ? row >> 1 : row;  // the row's place in its buffer
    // Remote rows land in the peer's rows [0, kRows), local ones in this GPU's rows [kRows, 2 kRows).
    unsigned char* dst = remote ? peer_buf + (long long)slot * kRowBytes : my_buf + (long long)(kRows + slot) * kRowBytes;
    const unsigned char* src = y + (long long)row * kPayload;
    if (kMode == 5) {
      send_plain(dst, src, unit, lane);
    } else {
      send_lines<kMode>(dst, src, unit, launch, lane);
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence_system();
    atomicAdd_system(peer_count, 1ull);
  }
}

using Kernel = void (*)(unsigned char*, unsigned char*, const unsigned char*, unsigned long long*,
                        const unsigned long long*, unsigned int, Times*, const volatile unsigned int*,
                        unsigned long long*, unsigned long long*, int);

int main() {
  int n = 0;
  CK(cudaGetDeviceCount(&n));
  if (n < 2) { printf("needs 2 GPUs\n"); return 1; }
  const Kernel kernels[] = {probe<0>, probe<1>, probe<2>, probe<3>, probe<4>, probe<5>, probe<6>, probe<7>};
  const char* names[] = {"regs", "y8", "y16", "y8 mix", "y8 mix weak", "rows mix", "y8 mix polled", "y8 mix poll 200ns"};
  const size_t buf_bytes = (size_t)2 * kRows * kRowBytes, y_bytes = (size_t)2 * kRows * kPayload;
  unsigned char* buf[2]; unsigned char* y[2]; unsigned long long* count[2]; unsigned long long* arrive[2]; Times* t[2];
  unsigned int* gate;
  CK(cudaHostAlloc(&gate, 64, cudaHostAllocMapped | cudaHostAllocPortable));
  *(volatile unsigned int*)gate = 0;
  cudaStream_t s[2];
  for (int g = 0; g < 2; g++) {
    CK(cudaSetDevice(g));
    CK(cudaDeviceEnablePeerAccess(1 - g, 0));
    CK(cudaMalloc(&buf[g], buf_bytes)); CK(cudaMemset(buf[g], 0, buf_bytes));
    CK(cudaMalloc(&y[g], y_bytes)); CK(cudaMemset(y[g], 0x5A, y_bytes));
    CK(cudaMalloc(&count[g], 8)); CK(cudaMalloc(&arrive[g], 8)); CK(cudaMalloc(&t[g], sizeof(Times)));
    CK(cudaStreamCreateWithFlags(&s[g], cudaStreamNonBlocking));
  }
  const int iters = 300;
  for (int writers : {66, 131}) {  // plus the waiting block: every block of both grids resident
    for (int mode = 0; mode < 8; mode++) {
      if (mode >= 6 && writers > 66) continue;  // the pollers need SMs of their own
      const int pollers = mode >= 6 ? 65 : 0;
      unsigned int launches = 0;
      *(volatile unsigned int*)gate = 0;
      for (int g = 0; g < 2; g++) {
        CK(cudaSetDevice(g)); CK(cudaMemset(count[g], 0, 8)); CK(cudaMemset(arrive[g], 0, 8)); CK(cudaDeviceSynchronize());
      }
      std::vector<double> span;
      for (int i = 1; i <= iters; i++) {
        launches++;
        const Times init = {~0ull, 0};
        for (int g = 0; g < 2; g++) {
          CK(cudaSetDevice(g));
          CK(cudaMemcpyAsync(t[g], &init, sizeof(Times), cudaMemcpyHostToDevice, s[g]));
          // One kernel of `writers` blocks plus the waiting block: at most one block per SM either way.
          kernels[mode]<<<writers + 1 + pollers, kThreads, 0, s[g]>>>(buf[1 - g], buf[g], y[g], count[1 - g], count[g],
                                                                      launches, t[g], gate, arrive[1 - g], arrive[g],
                                                                      writers);
          CK(cudaGetLastError());
        }
        *(volatile unsigned int*)gate = launches;
        for (int g = 0; g < 2; g++) {
          CK(cudaSetDevice(g)); CK(cudaStreamSynchronize(s[g]));
          Times h;
          CK(cudaMemcpy(&h, t[g], sizeof(Times), cudaMemcpyDeviceToHost));
          if (i > 30) span.push_back((h.done_ns - h.start_ns) / 1e3);
        }
      }
      std::sort(span.begin(), span.end());
      const double med = span[span.size() / 2];
      const double crossed = mode == 5 ? (double)kRows * kPayload : (double)kRows * kRowBytes;  // polled: lines
      printf("writers %3d  %-12s delivered in %6.1f us (p10 %6.1f, p90 %6.1f): %5.0f GB/s across NVLink\n", writers,
             names[mode], med, span[span.size() / 10], span[span.size() * 9 / 10], crossed / med / 1e3);
    }
  }
  printf("per direction: %d rows of %d bytes of payload (%.2f MB; %.2f MB as lines); mix modes also write as much locally\n",
         kRows, kPayload, (double)kRows * kPayload / 1e6, (double)kRows * kRowBytes / 1e6);
  return 0;
}
