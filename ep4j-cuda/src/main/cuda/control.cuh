// The control plane on the device (DESIGN 3): which operation a launch belongs to, its call
// record, the signal words peers write, bounded waits, and how a failure reaches every rank.
//
// An operation (layout, dispatch, combine, a low-latency call) is one or two launches on the
// rank's stream. Its first kernel reads Control::ops (the op's number k, its record is
// records[k % kCallRecords]); its last kernel's last block writes the record's stamp = k + 1
// and advances ops. Calls are numbered per kind (notify_calls, dispatch_calls, ...) the same
// way, so a signal word holds the number of the call it announces and a waiter wants ">= n".
//
// Failure: the first error of an op goes into its record (the host raises it) and into
// Control::op_error. Signals a failed op still sends carry kPoison, so a peer waiting on them
// fails too, naming this rank, instead of reading stale rows or waiting for its timeout.
#pragma once
#include "common.cuh"

namespace ep4j {

constexpr unsigned long long kPoison = 1ull << 62;
// What the host writes into every signal word of an aborted group (EpGroup.abort): poisoned, and
// a count past every call, so that every wait ends at once. Every bit below the sign bit: Java's
// Long.MAX_VALUE (RankRuntime.abort).
constexpr unsigned long long kAbortWord = 0x7FFFFFFFFFFFFFFFull;

template <class P>
__device__ __forceinline__ Control* control_of(const P& p, int rank) {
  return reinterpret_cast<Control*>(p.heap[rank]);
}

template <class P>
__device__ __forceinline__ Control* my_control(const P& p) {
  return control_of(p, p.rank);
}

__device__ __forceinline__ unsigned long long load_volatile_u64(const unsigned long long* p) {
  return *reinterpret_cast<const volatile unsigned long long*>(p);
}

// The op a launch works for, as every thread of it sees it.
struct Op {
  unsigned long long index;  // op number k
  CallRecord* record;        // host-mapped
  Control* ctrl;             // this rank's control block
  int operation;             // Operation
};

template <class P>
__device__ __forceinline__ Op op_at(const P& p, unsigned long long index, int operation) {
  Op op;
  op.ctrl = my_control(p);
  op.index = index;
  op.record = p.records + (index % kCallRecords);  // records are kCallRecordBytes apart (contract.cuh)
  op.operation = operation;
  return op;
}

// Up to three control words that every thread of a block needs, loaded by threads 0..2 and handed
// on through shared memory (a null address reads as 0). Every block thread must call it. Loaded by
// every warp instead, they are thousands of strong loads of one line, and those queue at its L2
// slice: that cost a low-latency launch of 132 blocks x 16 warps 1.5-2 us before its first wait
// (LlTrace, 2026-11-30).
struct Words {
  unsigned long long v[3];
};

__device__ __forceinline__ Words block_load_words(const unsigned long long* a0, const unsigned long long* a1 = nullptr,
                                                  const unsigned long long* a2 = nullptr) {
  __shared__ unsigned long long s[3];
  __syncthreads();  // every thread has read what an earlier call left
  if (threadIdx.x < 3) {
    const unsigned long long* a = threadIdx.x == 0 ? a0 : threadIdx.x == 1 ? a1 : a2;
    s[threadIdx.x] = a != nullptr ? load_volatile_u64(a) : 0ull;
  }
  __syncthreads();
  return Words{{s[0], s[1], s[2]}};
}

// The op that begins with this launch: number Control::ops (advanced by op_end).
template <class P>
__device__ __forceinline__ Op op_begin(const P& p, int operation) {
  return op_at(p, block_load_words(&my_control(p)->ops).v[0], operation);
}

// The same, with the number of this launch's call of a kind (*calls + 1: notify_calls, ...).
template <class P>
__device__ __forceinline__ Op op_begin(const P& p, int operation, unsigned long long Control::*calls,
                                       unsigned long long& n) {
  Control* c = my_control(p);
  const Words w = block_load_words(&c->ops, &(c->*calls));
  n = w.v[1] + 1;
  return op_at(p, w.v[0], operation);
}

__device__ __forceinline__ bool op_failed(const Op& op) {
  return load_volatile_u64(&op.ctrl->op_error) == op.index + 1;
}

// The first error of the op wins: a CAS on the device word, then plain stores to the host
// record (host-mapped memory takes no atomics over PCIe).
__device__ __forceinline__ void op_error(const Op& op, int code, int peer, long long seen, long long expected,
                                         long long detail) {
  unsigned long long* word = &op.ctrl->op_error;
  unsigned long long v = load_volatile_u64(word);
  while (v != op.index + 1) {
    const unsigned long long prev = atomicCAS(word, v, op.index + 1);
    if (prev == v) {
      volatile CallRecord* r = op.record;
      r->operation = op.operation;
      r->peer = peer;
      r->seen = seen;
      r->expected = expected;
      r->detail = detail;
      __threadfence_system();
      r->code = code;
      return;
    }
    v = prev;
  }
}

// Last of all in the op: its outputs are in place, the host may look. What the host reads after
// the stamp is the call record, and only its code unless the op failed (CallRecords.raise):
// device outputs it reaches through the stream, or through copies that read device memory, where
// the blocks' writes already are (the last block saw them at GPU scope through its ticket or
// acquire). So a stamp of an op that did not fail is a relaxed store; one that failed releases
// the record op_error wrote (the failure is seen here first: op_error raises the device word
// before the record, and its block arrived after). On H200 a release into host memory costs
// about 1.4 us at each kernel boundary, a relaxed store 0.1 (boundary-probe.txt, session 11).
__device__ __forceinline__ void op_complete(const Op& op) {
  if (op_failed(op)) store_release_sys(&op.record->stamp, op.index + 1);
  else store_relaxed_sys(&op.record->stamp, op.index + 1);
}

// The end of an op whose launches all ran in a row: the next op takes the next number.
__device__ __forceinline__ void op_end(const Op& op) {
  op.ctrl->ops = op.index + 1;
  op_complete(op);
}

// The value a signal carries for call n of an op: poisoned when the op failed here.
__device__ __forceinline__ unsigned long long signal_value(const Op& op, unsigned long long n) {
  return n | (op_failed(op) ? kPoison : 0ull);
}

// Stores call n's signal into word [rank] of `line` in peer `peer`'s control block.
__device__ __forceinline__ void signal_peer(unsigned long long* line_on_peer, int rank, unsigned long long value) {
  store_release_sys(line_on_peer + rank, value);
}

// The spin of every bounded wait: `ready` (a bool()) is tried once, and then until it holds or,
// every 256 tries, `give_up` (a bool(uint64_t waited_ns)) says to stop; whether it became ready.
// The first try costs no clock read, so a wait that is already over stays cheap.
template <typename Ready, typename GiveUp>
__device__ __forceinline__ bool spin_until(Ready ready, GiveUp give_up) {
  if (ready()) return true;
  const uint64_t start = global_timer_ns();
  for (unsigned int spin = 1;; spin++) {
    if (ready()) return true;
    if ((spin & 255u) == 0 && give_up(global_timer_ns() - start)) return false;
  }
}

// Why a wait of this op gives up, checked as it spins: the op already failed here (false
// otherwise), or the time ran out (kTimeout, naming the peer, what it saw, what was awaited).
__device__ __forceinline__ bool wait_gives_up(const Op& op, uint64_t waited_ns, long long timeout_ns, int peer,
                                              long long seen, long long expected, int wait) {
  if (op_failed(op)) return true;
  if ((long long)waited_ns > timeout_ns) {
    op_error(op, kTimeout, peer, seen, expected, wait);
    return true;
  }
  return false;
}

// Spins until word >= n: a peer reached call n. `data` waits are for what call n delivers: they
// fail (kPeerFailed) when the word says the peer's call n itself failed (n | kPoison). Other
// waits (a slot is free again, a peer is done reading) only need the peer to have got that far:
// a poisoned value was reported by the call it belongs to and does not fail this one. Any wait
// fails on the abort word (kAborted), when the time runs out (kTimeout, naming the peer and
// what was awaited), or when the op already failed here.
__device__ __forceinline__ bool wait_signal(const Op& op, const unsigned long long* word, unsigned long long n,
                                            int peer, int wait, long long timeout_ns, bool data = true) {
  unsigned long long v = 0;
  if (!spin_until([&] { return ((v = load_acquire_sys(word)) & ~kPoison) >= n; },
                  [&](uint64_t waited) {
                    return wait_gives_up(op, waited, timeout_ns, peer, (long long)(v & ~kPoison), (long long)n, wait);
                  }))
    return false;
  if (v == kAbortWord) {
    op_error(op, kAborted, peer, 0, (long long)n, wait);
    return false;
  }
  if (data && (v & kPoison) && (v & ~kPoison) == n) {
    op_error(op, kPeerFailed, peer, (long long)n, (long long)n, wait);
    return false;
  }
  return true;
}

// Spins until a count that every block of peer `peer`'s launch raises by one reaches `target`
// (n * blocks: its call n is complete), then fails when the peer's poison word names call n
// (kPeerFailed: that call failed there), on the abort word (kAbortWord or above: blocks may add
// after the host wrote it), on the timeout (kTimeout, naming the peer and the calls seen) or when
// the op already failed here.
__device__ __forceinline__ bool wait_count(const Op& op, const unsigned long long* count,
                                           const unsigned long long* poison, unsigned long long n, int blocks, int peer,
                                           int wait, long long timeout_ns) {
  const unsigned long long target = n * (unsigned long long)blocks;
  unsigned long long v = 0;
  if (!spin_until([&] { return (v = load_acquire_sys(count)) >= target; },
                  [&](uint64_t waited) {
                    return wait_gives_up(op, waited, timeout_ns, peer, (long long)(v / (unsigned long long)blocks),
                                         (long long)n, wait);
                  }))
    return false;
  const unsigned long long failed = load_volatile_u64(poison);
  if (v >= kAbortWord || failed >= kAbortWord) {
    op_error(op, kAborted, peer, 0, (long long)n, wait);
    return false;
  }
  if (failed == n) {
    op_error(op, kPeerFailed, peer, (long long)n, (long long)n, wait);
    return false;
  }
  return true;
}

// What a kernel's blocks add to an arrival count, together, per call: whatever the grid, so
// that a receiver needs no sender's block count (ranks may launch different grids).
constexpr unsigned long long kArrivalShares = 1ull << 20;

// Block b's share of kArrivalShares among G blocks; the G shares sum to it exactly.
__device__ __forceinline__ unsigned long long arrival_share(unsigned int b, unsigned int G) {
  return ((b + 1ull) * kArrivalShares) / G - (b * kArrivalShares) / G;
}

// Threads [0, R) of the block wait for word [j] of `line` (this rank's control block) to reach
// n, while warps 1.. run `work` (a bool(): false when the thread found the op cannot go on), so
// the wait's latency hides behind other loads; block-uniform result: whether every peer's call n
// arrived unpoisoned and every thread's work succeeded.
template <typename Work>
__device__ __forceinline__ bool block_wait_all_while(const Op& op, const unsigned long long* line, unsigned long long n,
                                                     int ranks, int wait, long long timeout_ns, bool data, Work work) {
  __shared__ int ok;
  if (threadIdx.x == 0) ok = 1;
  __syncthreads();
  if (threadIdx.x < 32) {
    if (threadIdx.x < ranks && !wait_signal(op, line + threadIdx.x, n, threadIdx.x, wait, timeout_ns, data)) ok = 0;
  } else if (!work()) {
    ok = 0;
  }
  __syncthreads();
  return ok != 0;
}

__device__ __forceinline__ bool block_wait_all(const Op& op, const unsigned long long* line, unsigned long long n,
                                               int ranks, int wait, long long timeout_ns, bool data = true) {
  return block_wait_all_while(op, line, n, ranks, wait, timeout_ns, data, [] { return true; });
}

// Whether the op failed, by one read per block.
__device__ __forceinline__ bool block_sees_failure(const Op& op) {
  __shared__ int failed;
  if (threadIdx.x == 0) failed = op_failed(op);
  __syncthreads();
  return failed != 0;
}

// Counts blocks that finished; true in exactly one block (the last), after a fence so every
// block's writes are visible before it signals peers. The counter is back at 0 after. `system`:
// the blocks wrote to peers (their rows must reach the peer before the signal does), so the fence
// is system-wide; a half that only read peer data and wrote local memory takes its ticket with
// one acquire-release add at GPU scope instead of fence, add, fence (0.3-0.5 us less per
// low-latency launch on H200, 2026-11-30).
__device__ __forceinline__ bool last_block_done(unsigned int* counter, bool system = true) {
  __shared__ int is_last;
  __syncthreads();
  if (threadIdx.x == 0) {
    unsigned int ticket;
    if (system) {
      __threadfence_system();
      ticket = atomicAdd(counter, 1u);
    } else {
      ticket = atomic_add_acq_rel_gpu(counter, 1u);
    }
    is_last = (ticket == gridDim.x - 1);
    if (is_last) {
      if (system) __threadfence_system();
      *counter = 0;
    }
  }
  __syncthreads();
  return is_last != 0;
}

}  // namespace ep4j
