// Hopper bulk (TMA) copies between global and shared memory, and the shared-memory barriers
// that complete them. One thread issues a whole row; the copy engine moves it while the warp
// does other work, so a few warps per SM keep hundreds of kilobytes in flight.
#pragma once
#include <cstdint>

namespace ep4j {

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void barrier_init(uint64_t* bar, int arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(shared_address(bar)), "r"(arrivals) : "memory");
}

// Makes initialized barriers visible to the copy engine (the async proxy).
__device__ __forceinline__ void barrier_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

// Arms the barrier's current phase for `bytes` of incoming bulk loads (and one arrival).
__device__ __forceinline__ void barrier_expect_bytes(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(shared_address(bar)), "r"(bytes)
               : "memory");
}

// One try: whether the barrier's phase `parity` has completed (the hardware may hold the thread
// a while before it answers no).
__device__ __forceinline__ bool barrier_try_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done;
  asm volatile(
      "{\n .reg .pred ready;\n"
      " mbarrier.try_wait.parity.shared::cta.b64 ready, [%1], %2;\n"
      " selp.u32 %0, 1, 0, ready;\n}"
      : "=r"(done)
      : "r"(shared_address(bar)), "r"(parity)
      : "memory");
  return done != 0;
}

__device__ __forceinline__ void barrier_wait(uint64_t* bar, uint32_t parity) {
  while (!barrier_try_wait(bar, parity)) {
  }
}

// Global -> shared; completes on `bar` (bytes a multiple of 16, both addresses 16-byte aligned).
__device__ __forceinline__ void bulk_load(void* shared_dst, const void* src, uint32_t bytes, uint64_t* bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                   shared_address(shared_dst)),
               "l"(src), "r"(bytes), "r"(shared_address(bar))
               : "memory");
}

// Shared -> global (local HBM or a peer's memory over NVLink); tracked by bulk groups.
__device__ __forceinline__ void bulk_store(void* dst, const void* shared_src, uint32_t bytes) {
  asm volatile("cp.async.bulk.global.shared::cta.bulk_group [%0], [%1], %2;" ::"l"(dst),
               "r"(shared_address(shared_src)), "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;" ::: "memory"); }

// Waits until at most N committed groups still read their shared memory source.
template <int N>
__device__ __forceinline__ void bulk_wait_read() {
  asm volatile("cp.async.bulk.wait_group.read %0;" ::"n"(N) : "memory");
}

// Waits until every committed group has written its destination, then orders those writes
// before this thread's later (generic) writes and fences, such as a release to a peer.
__device__ __forceinline__ void bulk_wait_all() {
  asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
  asm volatile("fence.proxy.async.global;" ::: "memory");
}

__device__ __forceinline__ uint32_t dynamic_shared_bytes() {
  uint32_t v;
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(v));
  return v;
}

}  // namespace ep4j
