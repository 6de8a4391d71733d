// The contract between the kernels and the Java host: every struct the host fills or reads,
// every constant and every enum value both sides use, declared once here.
//
// Each item is an X-macro list. The lists expand into the C++ declarations below, and into the
// table that contract_table.cu prints at build time (ep4j/cuda/contract.txt in the jar). The
// Java side declares the same structs by field name (ep4j.cuda.kernel.Params*) and checks them
// against that table when it loads the kernels, and in CI: a field moved, renamed, retyped or
// added on one side only is a build failure, not a silent misread.
//
// This header is plain host-and-device C++: no kernels, no device functions, so the table
// program compiles it as host code on a machine without a GPU.
//
// The runtime it describes (DESIGN 3): every rank owns one symmetric heap, mapped into every
// peer; a Control block at its start holds the signal words peers write and the counters this
// rank's kernels advance. Kernels take the heaps' bases and fixed offsets, never per-call
// pointers of a peer; sequence numbers live on the device, so launches are graph-capturable.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cuda_bf16.h>

namespace ep4j {

// ------------------------------------------------------------------------------ constants

#define EP4J_CONSTANTS(C)                                                                         \
  C(kMaxRanks, 8)              /* ranks of an intranode group; every peer-pointer array */       \
  C(kMaxExperts, 4096)         /* experts of a normal dispatch (count exchange mailbox rows) */ \
  C(kLlMaxExperts, 4096)       /* experts of a low-latency call (shared-memory histograms) */    \
  C(kLlTokenBits, 21)          /* low-latency maxTokensPerRank < 2^kLlTokenBits */               \
  C(kMaxTopk, 1024)            /* top-k slots per token any kernel accepts */                    \
  C(kSignalLine, 16)           /* u64 words per signal kind: one 128-byte line, kMaxRanks used */ \
  C(kCallRecords, 1024)        /* call records in the host-mapped ring */                        \
  C(kCallRecordBytes, 64)      /* bytes between two records */                                  \
  C(kControlBytes, 4096)       /* the control block at the start of every symmetric heap */     \
  C(kLayoutThreads, 256)                                                                          \
  C(kLayoutMaxBlocks, 64)      /* layout blocks: partial histograms, reduced by the last one */ \
  C(kNotifyThreads, 1024)                                                                         \
  C(kDispatchThreads, 512)                                                                        \
  C(kCombineThreads, 1024)                                                                        \
  C(kCopyThreads, 512)                                                                            \
  C(kLlThreads, 512)                                                                              \
  C(kLlTracePoints, 16)        /* globaltimer stamps per block of a traced low-latency launch */  \
  C(kBulkDispatchMaxWarps, 16)                                                                    \
  C(kBulkDispatchMaxStages, 8)

#define EP4J_DEFINE_CONSTANT(name, value) constexpr int name = value;
EP4J_CONSTANTS(EP4J_DEFINE_CONSTANT)
#undef EP4J_DEFINE_CONSTANT

// ------------------------------------------------------------------------------ enums

// What the kernels found, in CallRecord::code.
#define EP4J_ERROR_CODES(E)   \
  E(kOk, 0)                   \
  E(kTimeout, 1)              \
  E(kExpertOutOfRange, 2)     \
  E(kWorstTokensOverflow, 3)  \
  E(kLlTopkMismatch, 4)       \
  E(kPeerFailed, 5)           \
  E(kAborted, 6)

// Which operation's kernel wrote the record (CallRecord::operation).
#define EP4J_OPERATIONS(E) \
  E(kOpLayout, 1)          \
  E(kOpNotify, 2)          \
  E(kOpDispatch, 3)        \
  E(kOpCombine, 4)         \
  E(kOpLlDispatch, 5)      \
  E(kOpLlCombine, 6)

// What a wait that failed was waiting for (CallRecord::detail of kTimeout and kPeerFailed).
#define EP4J_WAITS(E)            \
  E(kWaitNotify, 0)              \
  E(kWaitDispatchReady, 1)       \
  E(kWaitDispatchArrival, 2)     \
  E(kWaitCombineReady, 3)        \
  E(kWaitCombineDone, 4)         \
  E(kWaitLlDispatchFree, 5)      \
  E(kWaitLlDispatchData, 6)      \
  E(kWaitLlCombineFree, 7)       \
  E(kWaitLlCombineData, 8)

// Low-latency data formats (LlParams::mode).
#define EP4J_LL_MODES(E)   \
  E(kLlBf16, 0)            \
  E(kLlFp8, 1)             \
  E(kLlFp8RoundScale, 2)   \
  E(kLlFp8Ue8m0, 3)

// Which half of a low-latency call a launch runs (LlParams::phase).
#define EP4J_LL_PHASES(E)  \
  E(kLlSendAndReceive, 0)  \
  E(kLlSend, 1)            \
  E(kLlReceive, 2)

#define EP4J_ENUMS(X)                  \
  X(ErrorCode, EP4J_ERROR_CODES)       \
  X(Operation, EP4J_OPERATIONS)        \
  X(WaitKind, EP4J_WAITS)              \
  X(LlMode, EP4J_LL_MODES)             \
  X(LlPhase, EP4J_LL_PHASES)

#define EP4J_ENUMERATOR(name, value) name = value,
#define EP4J_DEFINE_ENUM(Name, VALUES) enum Name : int { VALUES(EP4J_ENUMERATOR) };
EP4J_ENUMS(EP4J_DEFINE_ENUM)
#undef EP4J_DEFINE_ENUM
#undef EP4J_ENUMERATOR

// ------------------------------------------------------------------------------ structs
// F(type, name) is one field, A(type, name, n) a fixed array. Comments must be /* */: a line
// comment would swallow the macro's line continuation.

struct CallRecord;

// One operation's record, in the host-mapped ring (records[op % kCallRecords]). The kernels
// write the first error of the op (code..detail), then, last of all, stamp = op + 1: the host
// polls the stamp to learn that the op is complete, and reads the error fields after it.
#define EP4J_CALL_RECORD(F, A) \
  F(int, code)                 \
  F(int, operation)            \
  F(int, peer)                 \
  F(int, pad)                  \
  F(long long, seen)           \
  F(long long, expected)       \
  F(long long, detail)         \
  F(unsigned long long, stamp) \
  A(long long, tail, 2)        /* to kCallRecordBytes: the ring is an array of records */

// What the count exchange tells the host (host-mapped, one per dispatch slot): rows received
// and aligned rows per local expert, valid once stamp = op + 1.
#define EP4J_HOST_SUMMARY(F, A)        \
  F(unsigned long long, stamp)         \
  F(int, total)                        \
  F(int, pad)                          \
  A(int, tokens_per_expert, kMaxExperts)

// The control block at offset 0 of every rank's symmetric heap. Signal words hold the number
// of the call they announce (counts only grow, so nothing is ever reset); kPoison marks a call
// that failed on the rank that wrote it. Counters advance inside the kernels, in stream order,
// so launches take the same parameters every time and a CUDA graph replays them correctly.
#define EP4J_CONTROL(F, A)                                                                           \
  /* Written by peers: one line per kind, word [source rank]. */                                     \
  A(unsigned long long, notify, kSignalLine)            /* abort only: mailbox words carry the calls */ \
  A(unsigned long long, dispatch_ready, kSignalLine)    /* ready to receive a cached dispatch */     \
  A(unsigned long long, dispatch_arrive, kSignalLine)   /* shares of arrived blocks (control.cuh) */ \
  A(unsigned long long, dispatch_poison, kSignalLine)   /* the source's last failed dispatch call */ \
  A(unsigned long long, combine_ready, kSignalLine)     /* the source's combine input is readable */ \
  A(unsigned long long, combine_done, kSignalLine)      /* the source finished reading ours */       \
  A(unsigned long long, ll_dispatch_data, 2 * kSignalLine)  /* [slot][source]: send blocks done */    \
  A(unsigned long long, ll_dispatch_poison, 2 * kSignalLine) /* [slot][source]: last failed call */  \
  A(unsigned long long, ll_dispatch_free, 2 * kSignalLine)  /* [slot][receiver]: receives done */    \
  A(unsigned long long, ll_combine_data, 2 * kSignalLine)                                            \
  A(unsigned long long, ll_combine_poison, 2 * kSignalLine)                                          \
  A(unsigned long long, ll_combine_free, 2 * kSignalLine)                                            \
  /* Written by this rank, read by peers after combine_ready. */                                     \
  F(long long, combine_x_offset)        /* this rank's combine input x, from its heap base */        \
  F(long long, combine_w_offset)        /* its weights, or -1 */                                     \
  A(long long, shared_pad, 14)                                                                       \
  /* This rank's kernels only. */                                                                    \
  F(unsigned long long, ops)            /* operations begun; op k's record is k % kCallRecords */    \
  F(unsigned long long, op_error)       /* 1 + the last op that recorded an error */                 \
  F(unsigned long long, notify_calls)                                                                \
  F(unsigned long long, dispatch_calls)                                                              \
  F(unsigned long long, combine_calls)                                                               \
  A(unsigned long long, ll_dispatch_sent, 2)                                                         \
  A(unsigned long long, ll_dispatch_received, 2)                                                     \
  A(unsigned long long, ll_combine_sent, 2)                                                          \
  A(unsigned long long, ll_combine_received, 2)                                                      \
  A(unsigned long long, ll_dispatch_op, 2)  /* the op a hooked dispatch on the slot belongs to */    \
  A(unsigned long long, ll_combine_op, 2)                                                            \
  A(unsigned int, block_counter, 4)     /* last-block tickets, back to 0 after each kernel */        \
  A(unsigned int, task_counter, 2)

// Fields every kernel takes first: where the ranks' heaps are, where the records are.
#define EP4J_COMMON_PARAMS(F, A)                                                                  \
  A(uint8_t*, heap, kMaxRanks)     /* every rank's symmetric heap, in this process */            \
  F(CallRecord*, records)          /* this rank's host-mapped ring of kCallRecords */            \
  F(long long, heap_bytes)         /* size of one heap */                                        \
  F(long long, timeout_ns)         /* how long a wait for a peer may take */                     \
  F(int, rank)                                                                                    \
  F(int, ranks)

#define EP4J_LAYOUT_PARAMS(F, A)                                        \
  EP4J_COMMON_PARAMS(F, A)                                              \
  F(const void*, topk_idx)          /* [T, K] int64 or int32 */         \
  F(int, idx_is_64)                                                     \
  F(int, num_tokens)                                                    \
  F(int, topk)                                                          \
  F(int, num_experts)                                                   \
  F(int, local_experts)                                                 \
  F(int, pad)                                                           \
  F(int*, partials)                 /* [kLayoutMaxBlocks][E + R] scratch */ \
  F(int*, tokens_per_rank)          /* out [R] */                       \
  F(int*, tokens_per_expert)        /* out [E] */                       \
  F(uint8_t*, is_token_in_rank)     /* out [T, R] */

// The count exchange's inputs and outputs (DESIGN 2.2), the same in the two launches that can run
// it: ep4j_notify, and ep4j_dispatch_bulk with DispatchParams::exchange = 1.
#define EP4J_EXCHANGE_PARAMS(F, A)                                                            \
  F(int, num_experts)                                                                         \
  F(int, expert_alignment)                                                                    \
  F(long long, o_mailbox)              /* [2][kMaxRanks][kMaxRanks + kMaxExperts] ints */      \
  F(const uint8_t*, is_token_in_rank)  /* [T, R] from the layout */                           \
  F(const int*, tokens_per_expert)     /* [E] from the layout */                              \
  F(uint8_t*, handle_in_rank)          /* out [T, R]: the handle's copy of is_token_in_rank */ \
  F(int*, recv_offsets)                /* out [R + 1] */                                      \
  F(int*, recv_tokens_per_expert)      /* out [L], aligned */                                 \
  F(HostSummary*, summary)             /* out, host-mapped */

#define EP4J_NOTIFY_PARAMS(F, A)                                                              \
  EP4J_COMMON_PARAMS(F, A)                                                                    \
  F(int, num_tokens)                                                                          \
  F(int, local_experts)                                                                       \
  F(int, worst_rows)                   /* > 0: rows each receiver has; more is an error */    \
  F(int, pad)                                                                                 \
  F(int*, send_row)                    /* out [T, R]: row of token t on rank j, or -1 */      \
  F(int*, recv_total)                  /* out: rows this rank receives */                     \
  EP4J_EXCHANGE_PARAMS(F, A)

#define EP4J_DISPATCH_PARAMS(F, A)                                                          \
  EP4J_COMMON_PARAMS(F, A)                                                                  \
  F(int, num_tokens)                                                                        \
  F(int, row_bytes)                  /* bytes of one x row */                               \
  F(int, scale_bytes)                /* bytes of one scales row, 0 without scales */        \
  F(int, topk)                       /* 0 without topk */                                   \
  F(int, idx_is_64)                                                                         \
  F(int, local_experts)                                                                     \
  F(int, worst_rows)                 /* > 0: fill rows [recv_total, worst_rows) */          \
  F(int, order)                      /* 0: peers' items first; 1: destinations interleaved */ \
  F(int, cached)                     /* 1: positions from a handle, no count exchange */    \
  F(int, exchange)                   /* 1: this launch runs the count exchange (bulk only) */ \
  F(const uint8_t*, x)                                                                      \
  F(const uint8_t*, scales)                                                                 \
  F(const void*, topk_idx)                                                                  \
  F(const float*, topk_weights)                                                             \
  F(int*, send_row)                  /* [T, R]; written here when exchange */               \
  F(int*, recv_total)                /* this rank's received rows; written when exchange */ \
  F(long long, o_x)                  /* this slot's outputs, from every heap's base */      \
  F(long long, o_scales)                                                                    \
  F(long long, o_idx)                                                                       \
  F(long long, o_weights)            /* -1: no weights */                                   \
  F(long long, o_source)                                                                    \
  EP4J_EXCHANGE_PARAMS(F, A)         /* used when exchange */

#define EP4J_COMBINE_PARAMS(F, A)                                                      \
  EP4J_COMMON_PARAMS(F, A)                                                             \
  F(int, num_tokens)                                                                   \
  F(int, hidden)                     /* bf16 elements per row, multiple of 8 */        \
  F(int, topk)                       /* weights per row, 0 without weights */          \
  F(int, num_rows)                   /* rows of x (what this rank received) */         \
  F(const uint8_t*, is_token_in_rank) /* [T, R] */                                     \
  F(const int*, send_row)            /* [T, R] */                                      \
  F(const __nv_bfloat16*, x)         /* this rank's expert output [rows, H] */         \
  F(const float*, weights)           /* its received weights [rows, K], or null */     \
  F(long long, o_stage_x)            /* where x is copied when it is not in the heap */ \
  F(long long, o_stage_w)                                                              \
  F(const __nv_bfloat16*, bias0)                                                       \
  F(const __nv_bfloat16*, bias1)                                                       \
  F(__nv_bfloat16*, out)             /* [T, H] */                                      \
  F(float*, out_weights)             /* [T, K] */

#define EP4J_LL_PARAMS(F, A)                                                                     \
  EP4J_COMMON_PARAMS(F, A)                                                                       \
  F(const uint8_t*, x)               /* dispatch: [T, H] bf16 */                                \
  F(const void*, topk_idx)           /* [T, K] int64 or int32 */                                \
  F(const float*, weights)           /* combine: [T, K] */                                      \
  F(const uint8_t*, y)               /* combine: [L, R*N, H] bf16 */                            \
  F(uint8_t*, out)                   /* combine: [T, H] bf16 */                                 \
  F(uint8_t*, recv_x)                /* the slot's packed x [L, R*N, H] */                      \
  F(uint8_t*, recv_scales)           /* [L, R*N, scale_bytes / 4] */                            \
  F(int*, recv_count)                /* [L] */                                                  \
  F(int*, source_token)              /* [L, R*N] */                                             \
  F(int*, ranges)                    /* [L, R, 2] */                                            \
  F(int*, first_k)                   /* [L, R*N] */                                             \
  F(int*, dtopk)                     /* [N, Kmax] the dispatch's topk */                        \
  F(long long, o_data)               /* this slot's parts, from every heap's base */            \
  F(long long, o_hdr)                                                                           \
  F(long long, o_cnt)                                                                           \
  F(long long, o_creg)                                                                          \
  F(int, slot)                                                                                  \
  F(int, phase)                      /* LlPhase */                                              \
  F(int, num_tokens)                 /* dispatch: T of this rank */                             \
  F(int, hidden)                                                                                \
  F(int, topk)                       /* K */                                                    \
  F(int, topk64)                     /* topk is int64 */                                        \
  F(int, experts)                                                                               \
  F(int, local_experts)                                                                         \
  F(int, max_tokens)                 /* N */                                                    \
  F(int, max_topk)                   /* Kmax */                                                 \
  F(int, mode)                       /* LlMode */                                               \
  F(int, row_stride)                 /* bytes of one data / creg row (2H) */                    \
  F(int, x_row_bytes)                /* packed x row: H (fp8) or 2H */                          \
  F(int, scale_bytes)                /* per row, 0 for bf16 */                                  \
  F(int, send_blocks)                /* blocks of every rank's send half: the same everywhere */ \
  F(int, pad)                                                                                   \
  F(unsigned long long*, trace)      /* [blocks][kLlTracePoints] stamps, or null (LlTrace.java) */

#define EP4J_STRUCTS(S)                     \
  S(CallRecord, EP4J_CALL_RECORD)           \
  S(HostSummary, EP4J_HOST_SUMMARY)         \
  S(Control, EP4J_CONTROL)                  \
  S(LayoutParams, EP4J_LAYOUT_PARAMS)       \
  S(NotifyParams, EP4J_NOTIFY_PARAMS)       \
  S(DispatchParams, EP4J_DISPATCH_PARAMS)   \
  S(CombineParams, EP4J_COMBINE_PARAMS)     \
  S(LlParams, EP4J_LL_PARAMS)

#define EP4J_FIELD(type, name) type name;
#define EP4J_ARRAY(type, name, n) type name[n];
#define EP4J_DEFINE_STRUCT(Name, FIELDS) \
  struct Name {                          \
    FIELDS(EP4J_FIELD, EP4J_ARRAY)       \
  };
EP4J_STRUCTS(EP4J_DEFINE_STRUCT)
#undef EP4J_DEFINE_STRUCT
#undef EP4J_ARRAY
#undef EP4J_FIELD

// Kernel parameters travel as one __grid_constant__ struct: CUDA takes up to 4 KiB of them on
// every architecture this project builds for.
static_assert(sizeof(LayoutParams) <= 4096, "LayoutParams must fit the 4 KiB parameter space");
static_assert(sizeof(NotifyParams) <= 4096, "NotifyParams must fit the 4 KiB parameter space");
static_assert(sizeof(DispatchParams) <= 4096, "DispatchParams must fit the 4 KiB parameter space");
static_assert(sizeof(CombineParams) <= 4096, "CombineParams must fit the 4 KiB parameter space");
static_assert(sizeof(LlParams) <= 4096, "LlParams must fit the 4 KiB parameter space");
static_assert(sizeof(CallRecord) == kCallRecordBytes, "the ring is an array of call records, kCallRecordBytes apart");
static_assert(sizeof(Control) <= kControlBytes, "the control block fits its page");
// Peers write signal lines; this rank writes its counters: keep them on different 128-byte lines.
static_assert(offsetof(Control, combine_x_offset) % 128 == 0 && offsetof(Control, ops) % 128 == 0,
              "shared and private parts of the control block start on their own lines");
static_assert(kSignalLine >= kMaxRanks && kSignalLine * 8 == 128, "a signal line holds every rank's word");
// Ranks fit the bit masks (one bit per rank) and the per-rank shared arrays.
static_assert(kMaxRanks <= 32, "a rank mask is one 32-bit word");

}  // namespace ep4j
