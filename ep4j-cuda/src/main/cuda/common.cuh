// Shared pieces of the ep4j kernels: the cross-GPU signal protocol, timeouts that end in an
// error record instead of a trap, and 16-byte row copies.
#pragma once
#include <cstdint>
#include <cuda_bf16.h>
#include "contract.cuh"

namespace ep4j {

__host__ __device__ constexpr int signal_index(int kind, int source) { return kind * kMaxRanks + source; }

// A normal-path wait reports the signal it waited for as its WaitKind: the two enums agree.
static_assert(kWaitNotify == kNotify && kWaitDispatchArrival == kDispatchArrive && kWaitCombineReady == kCombineReady &&
                  kWaitCombineDone == kCombineDone,
              "normal signal kinds double as wait kinds");

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ __forceinline__ void store_release_sys(unsigned long long* addr, unsigned long long value) {
  asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(addr), "l"(value) : "memory");
}

__device__ __forceinline__ unsigned long long load_acquire_sys(const unsigned long long* addr) {
  unsigned long long v;
  asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(addr) : "memory");
  return v;
}

__device__ __forceinline__ void record_error(ErrorRecord* err, int code, int operation, int peer, long long seen,
                                             long long expected, long long detail) {
  if (atomicCAS(&err->code, 0, code) == 0) {
    err->operation = operation;
    err->peer = peer;
    err->seen = seen;
    err->expected = expected;
    err->detail = detail;
    __threadfence_system();
  }
}

// Spins until signals[idx] >= seq. On timeout it records who was missing (the WaitKind is the
// signal kind) and returns false,
// so kernels finish and the host raises EpTimeoutException instead of the GPU trapping. The
// error record lives in host memory: it is polled only every few microseconds, not every spin.
__device__ __forceinline__ bool wait_signal(const unsigned long long* signals, int kind, int peer,
                                            unsigned long long seq, long long timeout_ns, ErrorRecord* err,
                                            int operation) {
  const unsigned long long* addr = signals + signal_index(kind, peer);
  unsigned long long v = load_acquire_sys(addr);
  if (v >= seq) return true;
  const uint64_t start = global_timer_ns();
  for (unsigned int spin = 1;; spin++) {
    v = load_acquire_sys(addr);
    if (v >= seq) return true;
    if ((spin & 1023u) == 0) {
      if (*(volatile int*)&err->code != 0) return false;  // another wait already failed: stop early
      if ((long long)(global_timer_ns() - start) > timeout_ns) {
        record_error(err, kTimeout, operation, peer, (long long)v, (long long)seq, kind);
        return false;
      }
    }
  }
}

// Whether an earlier stage of this call flagged an error; one host-memory read per block.
__device__ __forceinline__ bool block_sees_error(const ErrorRecord* err) {
  __shared__ int flagged;
  if (threadIdx.x == 0) flagged = *(volatile const int*)&err->code;
  __syncthreads();
  return flagged != 0;
}

// Slot i of a [T, K] top-k tensor, int64 or int32.
__device__ __forceinline__ long long topk_at(const void* idx, int is64, long long i) {
  return is64 ? reinterpret_cast<const long long*>(idx)[i] : (long long)reinterpret_cast<const int*>(idx)[i];
}

__device__ __forceinline__ int4 load_stream(const int4* p) {
  int4 v;
  asm("ld.global.nc.L1::no_allocate.v4.s32 {%0,%1,%2,%3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__device__ __forceinline__ int4 load_volatile_peer(const int4* p) {
  // Peer memory written before a release/acquire handshake: a plain (weak) load after the
  // acquire is enough, but it must not use the non-coherent path.
  int4 v;
  asm volatile("ld.global.v4.s32 {%0,%1,%2,%3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

__device__ __forceinline__ void store_stream(int4* p, const int4& v) {
  asm volatile("st.global.L1::no_allocate.v4.s32 [%0], {%1,%2,%3,%4};" ::"l"(p), "r"(v.x), "r"(v.y), "r"(v.z),
               "r"(v.w)
               : "memory");
}

// One warp copies `bytes` (a multiple of 16) from src to dst with eight 16-byte loads in flight
// per lane (4 KiB per warp), enough to cover HBM latency with a few warps per SM.
__device__ __forceinline__ void warp_copy_row(uint8_t* dst, const uint8_t* src, int bytes, int lane) {
  constexpr int kUnroll = 8;
  const int4* s = reinterpret_cast<const int4*>(src);
  int4* d = reinterpret_cast<int4*>(dst);
  const int n = bytes >> 4;
  for (int base = lane; base < n; base += 32 * kUnroll) {
    int4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; u++)
      if (base + 32 * u < n) v[u] = load_stream(s + base + 32 * u);
#pragma unroll
    for (int u = 0; u < kUnroll; u++)
      if (base + 32 * u < n) store_stream(d + base + 32 * u, v[u]);
  }
}

// Counts blocks that finished; returns true in exactly one block (the last), after a system
// fence so every block's writes are visible before that block signals peers.
__device__ __forceinline__ bool last_block_done(unsigned int* counter) {
  __shared__ int is_last;
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence_system();
    unsigned int ticket = atomicAdd(counter, 1u);
    is_last = (ticket == gridDim.x - 1);
    if (is_last) {
      __threadfence_system();
      *counter = 0;  // the next kernel on this stream starts after this one ends
    }
  }
  __syncthreads();
  return is_last != 0;
}

}  // namespace ep4j
