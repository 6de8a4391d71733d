// Shared pieces of the ep4j kernels: clocks, ordered loads and stores, streaming 16-byte loads and stores.
// The control plane (ops, records, signals, waits) is control.cuh.
#pragma once
#include <cstdint>
#include <cuda_bf16.h>
#include "contract.cuh"

namespace ep4j {

__device__ __forceinline__ uint64_t global_timer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__device__ __forceinline__ void store_release_sys(unsigned long long* addr, unsigned long long value) {
  asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(addr), "l"(value) : "memory");
}

__device__ __forceinline__ void store_relaxed_sys(unsigned long long* addr, unsigned long long value) {
  asm volatile("st.relaxed.sys.global.u64 [%0], %1;" ::"l"(addr), "l"(value) : "memory");
}

__device__ __forceinline__ void add_relaxed_sys(unsigned long long* addr, unsigned long long value) {
  asm volatile("red.relaxed.sys.global.add.u64 [%0], %1;" ::"l"(addr), "l"(value) : "memory");
}

// Adds v at GPU scope, with release (this thread's earlier writes, and those it saw, come first)
// and acquire (its later reads see what the earlier adders wrote); returns the old value.
__device__ __forceinline__ unsigned int atomic_add_acq_rel_gpu(unsigned int* addr, unsigned int v) {
  unsigned int old;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;" : "=r"(old) : "l"(addr), "r"(v) : "memory");
  return old;
}

__device__ __forceinline__ unsigned long long load_acquire_sys(const unsigned long long* addr) {
  unsigned long long v;
  asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(addr) : "memory");
  return v;
}

// The start of a kernel launched to overlap the one ahead of it on its stream
// (RankRuntime.launchOverlapped): waits until that kernel has ended and its writes are visible
// (at once when launched plainly), then lets the kernel behind it launch, whose blocks take the
// SMs as this one's leave. Every block triggers only once it runs, so the dependent launch never
// takes room this grid's blocks still need.
__device__ __forceinline__ void overlapped_launch_begin() {
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
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

}  // namespace ep4j
