// Low-latency dispatch (DESIGN 2.4): the send half writes each token once into every rank that
// holds one of its experts (quantized on the fly), with a header that tells that rank where the
// row goes, and a count per (expert, source); the receive half waits for every source and copies
// each delivered row to its places, rows grouped by (local expert, source rank, source token).
// See ll_common.cuh for the memory and the signals.
#pragma once
#include "ll_common.cuh"

namespace ep4j {

// A top-k slot's expert, read back from the staged copy (shared memory) or the input.
struct LlTopk {
  const LlParams& p;
  const LlShared& sm;
  bool staged;
  __device__ __forceinline__ long long operator()(long long i) const {
    return staged ? (long long)sm.topk[i] : ll_topk(p, i);
  }
};

// The bf16 input of one phase-B unit (token t, 512-channel part) as one lane holds it: 16
// channels for fp8 (lanes 8b..8b+7 hold 128-channel block b of the part), or 16-byte pieces lane
// and lane + 32 of the part for bf16.
struct LlXPart {
  int4 v0, v1;
};

__device__ __forceinline__ LlXPart ll_load_x_part(const LlParams& p, long long u, int parts, bool fp8, int lane) {
  const int H = p.hidden;
  const int t = (int)(u / parts), c0 = (int)(u % parts) * kLlPartChannels;
  const int4* row = reinterpret_cast<const int4*>(p.x + ((long long)t * H + c0) * 2);
  LlXPart x = {make_int4(0, 0, 0, 0), make_int4(0, 0, 0, 0)};
  if (fp8) {
    const int b = lane >> 3, sub = lane & 7;
    if (b < min(H - c0, kLlPartChannels) / 128) {
      x.v0 = load_stream(row + (b * 128 + sub * 16) / 8);
      x.v1 = load_stream(row + (b * 128 + sub * 16) / 8 + 1);
    }
  } else {
    const int n16 = (min(H - c0, kLlPartChannels) * 2) >> 4;
    if (lane < n16) x.v0 = load_stream(row + lane);
    if (lane + 32 < n16) x.v1 = load_stream(row + lane + 32);
  }
  return x;
}

// Where a thread's share of the send half lies: staging, its first top-k slot and its stride
// (threads 32.. stage; warp 0 waits), and the warp's phase-B units (see ll_dispatch_send).
constexpr int kLlStageBatch = 8;  // slots a thread loads before it stores any

struct LlSendShare {
  bool staged;      // the top-k fits kLlStagedTopk: every block stages all of it in shared memory
  long long slots;  // T * K
  long long stage_begin, stage_step;
  int parts;        // 512-channel parts of a row
  long long units;  // T * parts
  int worker;       // the warp's first unit; later ones every G * kLlWarps
};

__device__ __forceinline__ LlSendShare ll_send_share(const LlParams& p) {
  LlSendShare s;
  s.slots = (long long)p.num_tokens * p.topk;
  s.staged = s.slots <= kLlStagedTopk;
  const int stagers = blockDim.x - 32;
  s.stage_step = s.staged ? stagers : (long long)gridDim.x * stagers;
  s.stage_begin = (s.staged ? 0 : (long long)blockIdx.x * stagers) + (long long)threadIdx.x - 32;
  s.parts = (p.hidden + kLlPartChannels - 1) / kLlPartChannels;
  s.units = (long long)p.num_tokens * s.parts;
  const int warp = threadIdx.x >> 5;
  const int expert_warps = (p.experts + gridDim.x - 1) / gridDim.x;  // per block, in phase A
  s.worker = ((warp - expert_warps % kLlWarps + kLlWarps) % kLlWarps) * gridDim.x + blockIdx.x;
  return s;
}

// What the send half loads before the launch reads its control words: none of it depends on
// the slot, and its latency then hides behind that read and the wait for a free slot.
struct LlDispatchEarly {
  long long e[kLlStageBatch];  // the thread's first staging batch of top-k slots
  LlXPart x;                   // the warp's first row part
};

__device__ __forceinline__ LlDispatchEarly ll_dispatch_early(const LlParams& p) {
  const LlSendShare s = ll_send_share(p);
  LlDispatchEarly early;
#pragma unroll
  for (int b = 0; b < kLlStageBatch; b++) {
    const long long i = s.stage_begin + b * s.stage_step;
    early.e[b] = threadIdx.x >= 32 && i < s.slots ? ll_topk(p, i) : 0;
  }
  early.x = {make_int4(0, 0, 0, 0), make_int4(0, 0, 0, 0)};
  if (s.worker < s.units) early.x = ll_load_x_part(p, s.worker, s.parts, p.mode != kLlBf16, threadIdx.x & 31);
  return early;
}

// Every block first stages the top-k of this rank's tokens in shared memory (when it fits,
// kLlStagedTopk slots; else the phases read global memory), and while at it stores its share of
// them into dtopk (combine checks against it) and flags experts out of range; warp 0 meanwhile
// waits until the receivers freed this slot. The first batch of staged slots and every warp's
// first row part were loaded before the launch read its control words (ll_dispatch_early).
// Phase A: block b's first warps take experts b, b + G, b + 2G, ... (G blocks). Lane i looks at
// token c0 + i of each 32-token chunk: the first top-k slot naming the expert, if any (duplicates
// in one token's top-k fold into one entry). A ballot numbers the chunk's tokens, so a token's
// place among this rank's tokens of the expert needs no atomics; the warp writes it into the
// token's header slot in the expert's rank, then the count.
// Phase B: warps take (token, 512-channel part) units, the warps without experts first, and write
// the row, quantized on the fly, once into every destination rank that holds one of its experts.
// The warp of part 0 also marks the token's other header slots, in every rank, as naming none of
// that rank's experts (so every header of a token below T is complete, whoever wrote which slot).
__device__ __forceinline__ void ll_dispatch_send(const LlParams& p, const Op& op, unsigned long long n, LlShared& sm,
                                                 const LlDispatchEarly& early) {
  const int R = p.ranks, L = p.local_experts, E = p.experts, N = p.max_tokens, K = p.topk, T = p.num_tokens;
  const int Kmax = p.max_topk;
  const LlSendShare share = ll_send_share(p);
  const long long slots = share.slots;
  const bool staged = share.staged;
  const int stagers = blockDim.x - 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int H = p.hidden;
  const int parts = share.parts;
  const long long units = share.units;
  const bool fp8 = p.mode != kLlBf16;
  const int worker = share.worker;
  LlXPart x = early.x;

  auto clamp = [](long long e) { return (int)max(min(e, 2147483647LL), -2147483647LL); };
  // Slot i's expert e goes into dtopk (combine checks against it); one out of range is flagged.
  auto keep = [&](long long i, long long e) {
    p.dtopk[(i / K) * p.max_topk + i % K] = clamp(e);
    if (e < -1 || e >= E) op_error(op, kExpertOutOfRange, p.rank, e, E, i);
  };
  // kLlStageBatch slots per thread are loaded before any is stored (the first batch early), so
  // staging waits for memory once per batch.
  auto put = [&](long long i, long long e) {
    if (!staged) {
      keep(i, e);
    } else {
      sm.topk[i] = clamp(e);
      if ((i / stagers) % gridDim.x == blockIdx.x) keep(i, e);  // this block's share
    }
  };
  auto stage = [&] {
    const long long step = share.stage_step;
#pragma unroll
    for (int b = 0; b < kLlStageBatch; b++)
      if (share.stage_begin + b * step < slots) put(share.stage_begin + b * step, early.e[b]);
    for (long long i0 = share.stage_begin + step * kLlStageBatch; i0 < slots; i0 += step * kLlStageBatch) {
      long long e[kLlStageBatch];
#pragma unroll
      for (int b = 0; b < kLlStageBatch; b++) e[b] = i0 + b * step < slots ? ll_topk(p, i0 + b * step) : 0;
#pragma unroll
      for (int b = 0; b < kLlStageBatch; b++)
        if (i0 + b * step < slots) put(i0 + b * step, e[b]);
    }
    ll_trace(p, kLlStaged, 32);
    return true;
  };
  // Every receiver must be done with our previous call on this slot before we overwrite it.
  ll_trace(p, kLlWaitBegins);
  const bool ok = block_wait_all_while(op, ll_line(op.ctrl->ll_dispatch_free, p.slot), n - 1, R, kWaitLlDispatchFree,
                                       p.timeout_ns, false, stage);
  const LlTopk expert_at{p, sm, staged};
  ll_trace(p, kLlFreeSeen);
  if (ok) {
    // Every destination learns how many tokens, of how many top-k slots, this rank sends.
    if (blockIdx.x == 0 && threadIdx.x < R)
      reinterpret_cast<int*>(p.heap[threadIdx.x] + p.o_cnt)[L * R + p.rank] = T | (K << kLlTokenBits);
    for (int e = blockIdx.x + gridDim.x * warp; e < E; e += gridDim.x * kLlWarps) {
      const int dst = e / L, le = e % L;
      int2* hdr = reinterpret_cast<int2*>(p.heap[dst] + p.o_hdr) + (long long)p.rank * N * Kmax;
      int count = 0;
      for (int c0 = 0; c0 < T; c0 += 32) {
        const int t = c0 + lane;
        int first = -1;
        if (t < T) {
#pragma unroll 8
          for (int k = K - 1; k >= 0; k--)
            if (expert_at((long long)t * K + k) == e) first = k;
        }
        const unsigned int named = __ballot_sync(0xffffffffu, first >= 0);
        if (first >= 0) hdr[(long long)t * Kmax + first] = make_int2(le, count + __popc(named & ((1u << lane) - 1u)));
        count += __popc(named);
      }
      if (lane == 0) reinterpret_cast<int*>(p.heap[dst] + p.o_cnt)[le * R + p.rank] = count;
    }
    ll_trace(p, kLlListed);

    // Phase B: the rows.
    bool prefetched = true;
    for (long long u = worker; u < units; u += (long long)gridDim.x * kLlWarps) {
      const int t = (int)(u / parts), part = (int)(u % parts);
      // Destination ranks of token t; part 0 completes its headers.
      unsigned int dests = 0;
      for (int k = lane; k < K; k += 32) {
        const long long e = expert_at((long long)t * K + k);
        const bool valid = e >= 0 && e < E;
        if (valid) dests |= 1u << (int)(e / L);
        if (part == 0) {
          bool first = valid;
          for (int k2 = 0; k2 < k && first; k2++) first = expert_at((long long)t * K + k2) != e;
          const int owner = first ? (int)(e / L) : -1;
          for (int j = 0; j < R; j++)
            if (j != owner)
              reinterpret_cast<int2*>(p.heap[j] + p.o_hdr)[((long long)p.rank * N + t) * Kmax + k] = make_int2(-1, -1);
        }
      }
      dests = __reduce_or_sync(0xffffffffu, dests);
      if (!prefetched) x = ll_load_x_part(p, u, parts, fp8, lane);
      prefetched = false;
      if (dests == 0) continue;
      const long long drow = p.o_data + ((long long)p.rank * N + t) * p.row_stride;
      const int c0 = part * kLlPartChannels;
      if (!fp8) {
        const int n16 = (min(H - c0, kLlPartChannels) * 2) >> 4;
#pragma unroll 1
        for (int j = 0; j < R; j++) {
          if (!(dests >> j & 1)) continue;
          int4* row = reinterpret_cast<int4*>(p.heap[j] + drow + c0 * 2);
          if (lane < n16) store_stream(row + lane, x.v0);
          if (lane + 32 < n16) store_stream(row + lane + 32, x.v1);
        }
        continue;
      }
      const int blocks = min(H - c0, kLlPartChannels) / 128;
      const int b = lane >> 3, sub = lane & 7;
      const bool active = b < blocks;
      const int ch = c0 + b * 128 + sub * 16;
      float f[16];
      const unsigned int w[8] = {(unsigned)x.v0.x, (unsigned)x.v0.y, (unsigned)x.v0.z, (unsigned)x.v0.w,
                                 (unsigned)x.v1.x, (unsigned)x.v1.y, (unsigned)x.v1.z, (unsigned)x.v1.w};
#pragma unroll
      for (int i = 0; i < 8; i++) {
        f[2 * i] = ll_bf16_lo(w[i]);
        f[2 * i + 1] = ll_bf16_hi(w[i]);
      }
      float amax = 0.0f;
#pragma unroll
      for (int i = 0; i < 16; i++) amax = fmaxf(amax, fabsf(f[i]));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 4));
      amax = fmaxf(amax, 1e-4f);
      float scale;
      unsigned int q[4];
      if (p.mode == kLlFp8) {
        const float s = __fdiv_rn(448.0f, amax);
#pragma unroll
        for (int i = 0; i < 4; i++)
          q[i] = ll_e4m3x2(__fmul_rn(f[4 * i], s), __fmul_rn(f[4 * i + 1], s)) |
                 ll_e4m3x2(__fmul_rn(f[4 * i + 2], s), __fmul_rn(f[4 * i + 3], s)) << 16;
        scale = __fdiv_rn(amax, 448.0f);
      } else {
        scale = ll_ceil_pow2(__fdiv_rn(amax, 448.0f));
#pragma unroll
        for (int i = 0; i < 4; i++)
          q[i] = ll_e4m3x2(__fdiv_rn(f[4 * i], scale), __fdiv_rn(f[4 * i + 1], scale)) |
                 ll_e4m3x2(__fdiv_rn(f[4 * i + 2], scale), __fdiv_rn(f[4 * i + 3], scale)) << 16;
      }
      // UE8M0: the part's four exponent bytes form one int (missing blocks are zero bytes).
      const unsigned int ebyte = active ? (__float_as_uint(scale) >> 23) & 0xFFu : 0u;
      const unsigned int e0 = __shfl_sync(0xffffffffu, ebyte, 0), e1 = __shfl_sync(0xffffffffu, ebyte, 8);
      const unsigned int e2 = __shfl_sync(0xffffffffu, ebyte, 16), e3 = __shfl_sync(0xffffffffu, ebyte, 24);
      const unsigned int packed = e0 | e1 << 8 | e2 << 16 | e3 << 24;
      const int4 qv = make_int4((int)q[0], (int)q[1], (int)q[2], (int)q[3]);
#pragma unroll 1
      for (int j = 0; j < R; j++) {
        if (!(dests >> j & 1)) continue;
        uint8_t* row = p.heap[j] + drow;
        if (active) store_stream(reinterpret_cast<int4*>(row + ch), qv);
        if (p.mode == kLlFp8Ue8m0) {
          if (lane == 0) reinterpret_cast<unsigned int*>(row + H)[part] = packed;
        } else if (active && sub == 0) {
          reinterpret_cast<float*>(row + H)[c0 / 128 + b] = scale;
        }
      }
    }
  }
  ll_send_end<LlDispatchWords>(p, op, n);
}

// What one receive unit (a kLlPackBytes piece of source row (j, t)) copies, as one lane holds it:
// 16-byte pieces lane and lane + 32 of the piece, header slot lane, and, in piece 0, scale ints
// lane and lane + 32.
struct LlPackUnit {
  int4 d0, d1;
  int2 h;
  int s0, s1;
};

__device__ __forceinline__ int2 ll_load_header(const int2* h) {
  int2 v;
  asm volatile("ld.global.v2.s32 {%0,%1}, [%2];" : "=r"(v.x), "=r"(v.y) : "l"(h));
  return v;
}

__device__ __forceinline__ int ll_load_int(const uint8_t* a) {
  return *reinterpret_cast<const volatile int*>(a);
}

// Unit u of the receive half: row (u / chunks) = j * N + t of the slot's data, piece u % chunks.
__device__ __forceinline__ LlPackUnit ll_load_pack_unit(const LlParams& p, long long u, int chunks, int lane) {
  const int chunk = (int)(u % chunks);
  const long long row = u / chunks;
  const uint8_t* src = p.heap[p.rank] + p.o_data + row * p.row_stride;
  const int b0 = chunk * kLlPackBytes + lane * 16;
  LlPackUnit w = {make_int4(0, 0, 0, 0), make_int4(0, 0, 0, 0), make_int2(-1, -1), 0, 0};
  if (b0 < p.x_row_bytes) w.d0 = load_volatile_peer(reinterpret_cast<const int4*>(src + b0));
  if (b0 + 512 < p.x_row_bytes) w.d1 = load_volatile_peer(reinterpret_cast<const int4*>(src + b0 + 512));
  if (lane < p.max_topk)
    w.h = ll_load_header(reinterpret_cast<const int2*>(p.heap[p.rank] + p.o_hdr) + row * p.max_topk + lane);
  if (chunk == 0) {
    const int nscale = p.scale_bytes >> 2;
    if (lane < nscale) w.s0 = ll_load_int(src + p.hidden + 4 * lane);
    if (lane + 32 < nscale) w.s1 = ll_load_int(src + p.hidden + 4 * (lane + 32));
  }
  return w;
}

// Every warp loads its first unit as soon as every source has signalled, then the block sums the
// counts; a unit then goes to every place its header names: local expert le, row
// (rows of le from sources below j) + pos.
__device__ __forceinline__ void ll_dispatch_receive(const LlParams& p, const Op& op, unsigned long long n, LlShared& sm) {
  const int R = p.ranks, L = p.local_experts, N = p.max_tokens;
  const bool ok = ll_wait_data<LlDispatchWords>(p, op, n, kWaitLlDispatchData);
  ll_trace(p, kLlDataSeen);
  if (ok) {
    __shared__ int s_tokens[kMaxRanks], s_topk[kMaxRanks];
    const int lane = threadIdx.x & 31;
    const uint8_t* cnt = p.heap[p.rank] + p.o_cnt;
    const int M = L * R;
    const int capacity = R * N;
    const int chunks = (p.x_row_bytes + kLlPackBytes - 1) / kLlPackBytes;
    const long long units = (long long)R * N * chunks;
    const long long stride = (long long)gridDim.x * kLlWarps;
    long long u = ll_warp_unit();
    LlPackUnit w = {};
    if (u < units) w = ll_load_pack_unit(p, u, chunks, lane);
    if (threadIdx.x < R) {
      const int word = ll_load_int(cnt + 4 * (M + threadIdx.x));
      s_tokens[threadIdx.x] = word & kLlTokenMask;
      s_topk[threadIdx.x] = word >> kLlTokenBits;
    }
    ll_block_scan(M, sm.off, [&](int i) { return ll_load_int(cnt + 4 * i); });  // its barriers publish s_*
    ll_trace(p, kLlScanned);
    if (blockIdx.x == 0) {
      for (int i = threadIdx.x; i < M; i += blockDim.x) {
        const int le = i / R;
        p.ranges[2 * i] = sm.off[i] - sm.off[le * R];
        p.ranges[2 * i + 1] = sm.off[i + 1] - sm.off[i];
      }
      for (int le = threadIdx.x; le < L; le += blockDim.x) p.recv_count[le] = sm.off[(le + 1) * R] - sm.off[le * R];
    }
    // Rows past recvCount: source token -1.
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)L * capacity;
         i += (long long)gridDim.x * blockDim.x) {
      const int le = (int)(i / capacity), row = (int)(i % capacity);
      if (row >= sm.off[(le + 1) * R] - sm.off[le * R]) p.source_token[i] = -1;
    }
    const int nscale = p.scale_bytes >> 2;
    for (bool first = true; u < units; u += stride, first = false) {
      if (!first) w = ll_load_pack_unit(p, u, chunks, lane);
      const int chunk = (int)(u % chunks);
      const long long row = u / chunks;
      const int j = (int)(row / N), t = (int)(row % N);
      if (t >= s_tokens[j]) continue;
      const int K = s_topk[j];
      const uint8_t* src = p.heap[p.rank] + p.o_data + row * p.row_stride;
      const int b0 = chunk * kLlPackBytes + lane * 16;
      for (int k0 = 0; k0 < K; k0 += 32) {
        int2 h = w.h;
        if (k0 > 0)
          h = k0 + lane < K ? ll_load_header(reinterpret_cast<const int2*>(p.heap[p.rank] + p.o_hdr) + row * p.max_topk +
                                             k0 + lane)
                            : make_int2(-1, -1);
        if (k0 + lane >= K) h.x = -1;
        // A place outside what the counts allow would be a broken header: it is not written.
        const bool place = h.x >= 0 && h.x < L && h.y >= 0 && h.y < sm.off[h.x * R + j + 1] - sm.off[h.x * R + j];
        unsigned int places = __ballot_sync(0xffffffffu, place);
        while (places != 0) {
          const int i = __ffs(places) - 1;
          places &= places - 1;
          const int le = __shfl_sync(0xffffffffu, h.x, i), pos = __shfl_sync(0xffffffffu, h.y, i);
          const long long out_row = (long long)le * capacity + sm.off[le * R + j] - sm.off[le * R] + pos;
          uint8_t* dst = p.recv_x + out_row * p.x_row_bytes;
          if (b0 < p.x_row_bytes) store_stream(reinterpret_cast<int4*>(dst + b0), w.d0);
          if (b0 + 512 < p.x_row_bytes) store_stream(reinterpret_cast<int4*>(dst + b0 + 512), w.d1);
          if (chunk == 0) {
            int* scales = reinterpret_cast<int*>(p.recv_scales + out_row * p.scale_bytes);
            if (lane < nscale) scales[lane] = w.s0;
            if (lane + 32 < nscale) scales[lane + 32] = w.s1;
            for (int s = lane + 64; s < nscale; s += 32) scales[s] = ll_load_int(src + p.hidden + 4 * s);
            if (lane == 0) {
              p.source_token[out_row] = t;
              p.first_k[out_row] = k0 + i;
            }
          }
        }
      }
    }
  }
  ll_receive_end<LlDispatchWords>(p, op, n);
}

}  // namespace ep4j

extern "C" __global__ void __launch_bounds__(ep4j::kLlThreads) ep4j_ll_dispatch(const __grid_constant__ ep4j::LlParams p) {
  using namespace ep4j;
  overlapped_launch_begin();
  __shared__ LlShared sm;
  LlDispatchEarly early = {};
  if (p.phase != kLlReceive) early = ll_dispatch_early(p);
  ll_launch<LlDispatchWords>(p, [&](const Op& op, unsigned long long n) { ll_dispatch_send(p, op, n, sm, early); },
                             [&](const Op& op, unsigned long long n) { ll_dispatch_receive(p, op, n, sm); });
}
