// Bandwidth probes for the benchmark's baseline: a plain 16-byte copy that, pointed at peer
// memory, measures what SM-driven NVLink writes (or reads) reach on this machine.
#pragma once
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(512) ep4j_copy(uint8_t* dst, const uint8_t* src, long long bytes) {
  const long long n = bytes >> 4;
  const int4* s = reinterpret_cast<const int4*>(src);
  int4* d = reinterpret_cast<int4*>(dst);
  const long long stride = (long long)gridDim.x * blockDim.x;
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    int4 a = ep4j::load_volatile_peer(s + i), b = ep4j::load_volatile_peer(s + i + stride);
    int4 c = ep4j::load_volatile_peer(s + i + 2 * stride), e = ep4j::load_volatile_peer(s + i + 3 * stride);
    d[i] = a;
    d[i + stride] = b;
    d[i + 2 * stride] = c;
    d[i + 3 * stride] = e;
  }
  for (; i < n; i += stride) d[i] = ep4j::load_volatile_peer(s + i);
}

// A stand-in for an expert, for the graph tests: out[i] = bf16(in[i] * factor), rounded to nearest
// even (the CPU side of the tests computes the same with ep4j.codec.BFloat16).
extern "C" __global__ void __launch_bounds__(256) ep4j_stub_expert(const __nv_bfloat16* in, __nv_bfloat16* out,
                                                                   long long n, float factor) {
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = __float2bfloat16_rn(__fmul_rn(__bfloat162float(in[i]), factor));
}
