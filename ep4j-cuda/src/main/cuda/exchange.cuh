// The count exchange of a normal dispatch (DESIGN 2.2): every rank publishes how many of its
// tokens go to each rank (and the layout's tokens per expert) in every rank's mailbox, as words
// that carry the call's number, and reads the others' rows back. That fixes every row's final
// position without atomics: rank i's rows for rank d start after those of ranks 0..i-1, in
// source-token order.
//
// Two launches can run it, on the same fields (contract.cuh: EP4J_EXCHANGE_PARAMS):
// ep4j_notify (one block, before a dispatch kernel) and ep4j_dispatch_bulk itself, every block
// ranking its own tokens (DispatchParams::exchange; dispatch.cuh). The helpers below are what the
// two share, written for either parameter struct.
#pragma once
#include "control.cuh"

namespace ep4j {

// A mailbox row: tokens to each rank, then tokens per (global) expert.
constexpr int kMailboxRow = kMaxRanks + kMaxExperts;

// A mailbox word: the exchange's call number (its low 32 bits) above the count, written with
// one 8-byte store. A reader knows a word is this call's from the word alone, so a sender
// publishes with plain stores: no system fence waits for them to land, and no signal follows.
__device__ __forceinline__ unsigned long long mailbox_word(unsigned long long nx, int count) {
  return (unsigned long long)(unsigned int)nx << 32 | (unsigned int)count;
}

// Rank `rank`'s mailbox: [kMaxRanks sources][kMailboxRow] words (the heap is zeroed at creation,
// and call numbers start at 1). One copy serves every call: a peer writes call nx + 1's words only
// once its call nx ended, which waited for this rank's arrival, after this rank read call nx's.
template <class P>
__device__ __forceinline__ unsigned long long* mailbox_of(const P& p, int rank) {
  return reinterpret_cast<unsigned long long*>(p.heap[rank] + p.o_mailbox);
}

// Writes this rank's row (totals[d]: its tokens for rank d; then the layout's tokens per expert)
// into every rank's mailbox, by the block's threads.
template <class P>
__device__ __forceinline__ void exchange_publish(const P& p, const int* totals, unsigned long long nx) {
  const int R = p.ranks;
  for (int j = 0; j < R; j++) {
    unsigned long long* row = mailbox_of(p, j) + (long long)p.rank * kMailboxRow;
    for (int i = threadIdx.x; i < R + p.num_experts; i += blockDim.x)
      store_relaxed_sys(row + (i < R ? i : kMaxRanks + (i - R)),
                        mailbox_word(nx, i < R ? totals[i] : p.tokens_per_expert[i - R]));
  }
}

// The count in word `w` of this rank's mailbox once source `peer` wrote it for call nx; -1 when
// the wait failed (recorded: a timeout names the peer and the call its word still holds; an
// aborted group, seen on the peer's notify word, which abort writes; or the op failed elsewhere).
template <class P>
__device__ __forceinline__ int mailbox_take(const P& p, const Op& op, const unsigned long long* w,
                                            unsigned long long nx, int peer) {
  const unsigned int tag = (unsigned int)nx;
  unsigned long long v = 0;
  const bool ok = spin_until([&] { return (unsigned int)((v = load_volatile_u64(w)) >> 32) == tag; },
                             [&](uint64_t waited) {
                               if (!op_failed(op) && load_volatile_u64(op.ctrl->notify + peer) >= kAbortWord) {
                                 op_error(op, kAborted, peer, 0, (long long)nx, kWaitNotify);
                                 return true;
                               }
                               return wait_gives_up(op, waited, p.timeout_ns, peer, (long long)(v >> 32),
                                                    (long long)nx, kWaitNotify);
                             });
  return ok ? (int)(unsigned int)v : -1;
}

// Every rank's totals of call nx, rows[i][d]: the tokens source i sends to rank d, by the block's
// threads (one word each). Block-uniform: whether every word came.
template <class P>
__device__ __forceinline__ bool exchange_gather(const P& p, const Op& op, unsigned long long nx,
                                                int (*rows)[kMaxRanks]) {
  __shared__ int ok;
  if (threadIdx.x == 0) ok = 1;
  __syncthreads();
  const int R = p.ranks;
  const unsigned long long* box = mailbox_of(p, p.rank);
  for (int q = threadIdx.x; q < R * R; q += blockDim.x) {
    const int i = q / R, d = q % R;
    const int c = mailbox_take(p, op, box + (long long)i * kMailboxRow + d, nx, i);
    if (c < 0) ok = 0;
    else rows[i][d] = c;
  }
  __syncthreads();
  return ok != 0;
}

// Where this rank's rows start on rank d: the rows ranks 0..rank-1 send there.
template <class P>
__device__ __forceinline__ int exchange_base(const P& p, const int (*rows)[kMaxRanks], int d) {
  int before = 0;
  for (int i = 0; i < p.rank; i++) before += rows[i][d];
  return before;
}

// Whether some rank receives more rows than a worst-sized dispatch holds (worst_rows > 0): the
// same answer on every rank, which all read the same counts, so they all skip the copy together.
// The first such rank (-1: none) and its rows.
struct Overflow {
  int rank, rows;
};

template <class P>
__device__ __forceinline__ Overflow exchange_overflow(const P& p, const int (*rows)[kMaxRanks]) {
  if (p.worst_rows > 0)
    for (int d = 0; d < p.ranks; d++) {
      int n = 0;
      for (int i = 0; i < p.ranks; i++) n += rows[i][d];
      if (n > p.worst_rows) return {d, n};
    }
  return {-1, 0};
}

// What the handle and the host learn from the counts, by one block's threads: the received rows
// per source rank (recv_offsets, recv_total), the aligned rows per local expert (from the
// mailbox's expert words of call nx), and the host summary's fields (not its stamp: the caller
// writes it last). Records kWorstTokensOverflow.
template <class P>
__device__ __forceinline__ void exchange_results(const P& p, const Op& op, const int (*rows)[kMaxRanks],
                                                 unsigned long long nx) {
  const int R = p.ranks;
  if (threadIdx.x == 0) {
    int acc = 0;
    for (int i = 0; i < R; i++) {
      p.recv_offsets[i] = acc;
      acc += rows[i][p.rank];
    }
    p.recv_offsets[R] = acc;
    *p.recv_total = acc;
    if (p.worst_rows == 0) p.summary->total = acc;
    const Overflow o = exchange_overflow(p, rows);
    if (o.rank >= 0) op_error(op, kWorstTokensOverflow, o.rank, o.rows, p.worst_rows, 0);
  }
  const unsigned long long* box = mailbox_of(p, p.rank);
  for (int l = threadIdx.x; l < p.local_experts; l += blockDim.x) {
    long long n = 0;
    for (int i = 0; i < R; i++) {
      const int c = mailbox_take(p, op, box + (long long)i * kMailboxRow + kMaxRanks + p.rank * p.local_experts + l, nx, i);
      n += max(c, 0);
    }
    const long long a = p.expert_alignment;
    const int aligned = (int)((n + a - 1) / a * a);
    p.recv_tokens_per_expert[l] = aligned;
    if (p.worst_rows == 0) p.summary->tokens_per_expert[l] = aligned;
  }
}

// The host polls the summary's stamp (the row count of an exact-size dispatch) instead of
// synchronizing the stream; it is written on failure too, after the error record, so the host
// never waits past the kernel. One thread, after the block's summary writes (the release orders
// them, and the record, which op_error fenced, before the stamp). A worst-sized dispatch's host
// reads no summary (its sizes are known), so that call writes none: a release into host memory
// costs over a microsecond, and the thread that pays it also issues a warp's copies.
template <class P>
__device__ __forceinline__ void exchange_stamp(const P& p, const Op& op) {
  if (p.worst_rows == 0) store_release_sys(&p.summary->stamp, op.index + 1);
}

// ------------------------------------------------------------ inside ep4j_dispatch_bulk

// Blocks take whole grains of tokens: 16 tokens are 16 * R bytes of is_token_in_rank, whole
// 16-byte pieces for every R that divides 16, so count_tokens never splits a piece between blocks.
constexpr int kExchangeGrain = 16;

// The tokens of one block or warp of a bulk dispatch, [begin, end): block b takes grains
// [g * b / G, g * (b + 1) / G) of the g grains, and its warps split the block's tokens evenly, so
// a warp's tokens are contiguous and ranked from counts of what precedes them.
struct TokenRange {
  int begin, end;
};

__device__ __forceinline__ int share_of(int n, int i, int parts) { return (int)((long long)n * i / parts); }

__device__ __forceinline__ TokenRange block_tokens(int T) {
  const int grains = (T + kExchangeGrain - 1) / kExchangeGrain;
  return {min(T, kExchangeGrain * share_of(grains, blockIdx.x, gridDim.x)),
          min(T, kExchangeGrain * share_of(grains, blockIdx.x + 1, gridDim.x))};
}

__device__ __forceinline__ TokenRange warp_tokens(int T, int warp, int warps) {
  const TokenRange b = block_tokens(T);
  return {b.begin + share_of(b.end - b.begin, warp, warps), b.begin + share_of(b.end - b.begin, warp + 1, warps)};
}

// Token t's row of is_token_in_rank (R bytes of 0 or 1) as a bit mask of ranks, in one load where
// R is a power of two.
template <class P>
__device__ __forceinline__ unsigned int token_ranks(const P& p, int t) {
  const int R = p.ranks;
  const uint8_t* row = p.is_token_in_rank + (long long)t * R;
  unsigned long long v = 0;
  if (R == 1) v = *row;
  else if (R == 2) v = *reinterpret_cast<const unsigned short*>(row);
  else if (R == 4) v = *reinterpret_cast<const unsigned int*>(row);
  else if (R == 8) v = *reinterpret_cast<const unsigned long long*>(row);
  else
    for (int d = 0; d < R; d++) v |= (unsigned long long)row[d] << (8 * d);
  unsigned int bits = 0;
#pragma unroll
  for (int d = 0; d < kMaxRanks; d++) bits |= (unsigned int)((v >> (8 * d)) & 1ull) << d;
  return bits;
}

// Which count token t adds to: 0 before this block's tokens b, 1 in them, 2 after.
__device__ __forceinline__ int token_place(long long t, const TokenRange& b) { return t < b.begin ? 0 : t < b.end ? 1 : 2; }

// Adds every token's ranks to counts[token_place][rank], by the block's threads. Where R divides
// 16, in 16-byte pieces (16 / R tokens, never split by a block boundary), all of a thread's loads
// issued before any is counted: the array is a few KiB, so this costs one load latency, not one
// per token.
template <class P>
__device__ __forceinline__ void count_tokens(const P& p, const TokenRange& b, int (*counts)[kMaxRanks]) {
  const int R = p.ranks;
  const long long bytes = (long long)p.num_tokens * R;
  long long done = 0;
  if (16 % R == 0 && (reinterpret_cast<uintptr_t>(p.is_token_in_rank) & 15) == 0) {
    const int4* v = reinterpret_cast<const int4*>(p.is_token_in_rank);
    const long long pieces = bytes / 16;
    constexpr int kUnroll = 8;
    for (long long q0 = threadIdx.x; q0 < pieces; q0 += (long long)blockDim.x * kUnroll) {
      int4 w[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; u++) {
        const long long q = q0 + (long long)u * blockDim.x;
        w[u] = q < pieces ? __ldg(v + q) : make_int4(0, 0, 0, 0);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; u++) {
        const long long q = q0 + (long long)u * blockDim.x;
        if (q >= pieces) break;
        const int o = token_place(q * 16 / R, b);
        const unsigned int word[4] = {(unsigned int)w[u].x, (unsigned int)w[u].y, (unsigned int)w[u].z,
                                      (unsigned int)w[u].w};
        for (int d = 0; d < R; d++) {
          int n = 0;
#pragma unroll
          for (int k = 0; k < 4; k++) {
            unsigned int mask = 0;  // the bytes of word k that belong to rank d (piece byte j: rank j % R)
#pragma unroll
            for (int i = 0; i < 4; i++) mask |= ((4 * k + i) % R == d ? 1u : 0u) << (8 * i);
            n += __popc(word[k] & mask);
          }
          if (n) atomicAdd(&counts[o][d], n);
        }
      }
    }
    done = pieces * 16;
  }
  for (long long j = done + threadIdx.x; j < bytes; j += blockDim.x)
    if (p.is_token_in_rank[j]) atomicAdd(&counts[token_place(j / R, b)][(int)(j % R)], 1);
}

// The count exchange run by ep4j_dispatch_bulk's blocks (DispatchParams::exchange), while the
// warps' first rows load. Every block counts the layout's is_token_in_rank: the tokens before its
// own, its own, and the rest. Block 0 publishes the totals; every block waits for every rank's
// totals (exchange_gather); then each warp counts its own tokens, and writes their final rows
// (send_row, the handle's) and the handle's is_token_in_rank. Block 0 also writes the results
// (exchange_results) and the host summary's stamp.
// Returns whether the copy may go on, the same in every block of every rank (false on a failed
// wait or an overflow of the worst-sized rows); total: the rows this rank receives.
__device__ __forceinline__ bool dispatch_exchange(const DispatchParams& p, const Op& op, unsigned long long nx,
                                                  int& total) {
  __shared__ int counts[3][kMaxRanks];  // tokens before this block's, in it, after it
  __shared__ int of_warp[kBulkDispatchMaxWarps][kMaxRanks];
  __shared__ int totals[kMaxRanks], base[kMaxRanks];
  __shared__ int go, received;
  const int R = p.ranks, T = p.num_tokens;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  if (threadIdx.x < 3 * kMaxRanks) counts[threadIdx.x / kMaxRanks][threadIdx.x % kMaxRanks] = 0;
  __syncthreads();
  const TokenRange block = block_tokens(T);
  count_tokens(p, block, counts);
  __syncthreads();
  if (threadIdx.x < R) totals[threadIdx.x] = counts[0][threadIdx.x] + counts[1][threadIdx.x] + counts[2][threadIdx.x];
  __syncthreads();
  if (blockIdx.x == 0) exchange_publish(p, totals, nx);
  // While the counts travel: each warp counts its own tokens (bits[i]: token begin + 32 i + lane).
  const TokenRange mine = warp_tokens(T, warp, warps);
  constexpr int kHeld = 4;  // 32-token steps a warp keeps in registers; more are loaded again below
  unsigned int bits[kHeld] = {};
  int own[kMaxRanks];
#pragma unroll
  for (int d = 0; d < kMaxRanks; d++) own[d] = 0;
  for (int i = 0, t0 = mine.begin; t0 < mine.end; i++, t0 += 32) {
    const int t = t0 + lane;
    const unsigned int v = t < mine.end ? token_ranks(p, t) : 0u;
#pragma unroll
    for (int h = 0; h < kHeld; h++)
      if (h == i) bits[h] = v;
#pragma unroll
    for (int d = 0; d < kMaxRanks; d++)
      if (d < R) own[d] += __popc(__ballot_sync(0xffffffffu, (v >> d) & 1u));
  }
  if (lane < R)
#pragma unroll
    for (int d = 0; d < kMaxRanks; d++)
      if (d == lane) of_warp[warp][d] = own[d];
  __shared__ int rows[kMaxRanks][kMaxRanks];
  const bool ok = exchange_gather(p, op, nx, rows);
  if (ok) {
    if (threadIdx.x < R) base[threadIdx.x] = exchange_base(p, rows, threadIdx.x) + counts[0][threadIdx.x];
    if (threadIdx.x == 0) {
      go = exchange_overflow(p, rows).rank < 0;
      received = 0;
      for (int i = 0; i < R; i++) received += rows[i][p.rank];
    }
    if (blockIdx.x == 0) exchange_results(p, op, rows, nx);
  } else if (threadIdx.x == 0) {
    go = 0;
  }
  __syncthreads();
  if (blockIdx.x == 0 && threadIdx.x == 0) exchange_stamp(p, op);
  total = received;
  if (!go) return false;

  // This warp's rows: where the block's rows start, plus the warps' before it, plus the ranks of
  // its own tokens, 32 at a time.
  int next[kMaxRanks];
#pragma unroll
  for (int d = 0; d < kMaxRanks; d++) {
    next[d] = 0;
    if (d < R) {
      next[d] = base[d];
      for (int w = 0; w < warp; w++) next[d] += of_warp[w][d];
    }
  }
  for (int i = 0, t0 = mine.begin; t0 < mine.end; i++, t0 += 32) {
    const int t = t0 + lane;
    const bool valid = t < mine.end;
    unsigned int v = 0;
#pragma unroll
    for (int h = 0; h < kHeld; h++)
      if (h == i) v = bits[h];
    if (i >= kHeld && valid) v = token_ranks(p, t);
#pragma unroll
    for (int d = 0; d < kMaxRanks; d++) {
      if (d >= R) break;
      const bool in = (v >> d) & 1u;
      const unsigned int all = __ballot_sync(0xffffffffu, in);
      if (valid) {
        const long long at = (long long)t * R + d;
        p.handle_in_rank[at] = in;
        p.send_row[at] = in ? next[d] + __popc(all & ((1u << lane) - 1u)) : -1;
      }
      next[d] += __popc(all);
    }
  }
  __syncwarp();  // the warp's lanes read these rows back (load_routing)
  return true;
}

}  // namespace ep4j
