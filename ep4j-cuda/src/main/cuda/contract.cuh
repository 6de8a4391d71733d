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
#pragma once
#include <cstddef>
#include <cstdint>
#include <cuda_bf16.h>

namespace ep4j {

// ------------------------------------------------------------------------------ constants

#define EP4J_CONSTANTS(C)                                                                         \
  C(kMaxRanks, 8)              /* ranks of an intranode group; every peer-pointer array */       \
  C(kMaxExperts, 4096)         /* experts of a normal dispatch (notify mailbox rows) */          \
  C(kLlMaxExperts, 4096)       /* experts of a low-latency call (shared-memory histograms) */    \
  C(kLlTokenBits, 21)          /* low-latency list entry: (first k << kLlTokenBits) | token */   \
  C(kMaxTopk, 1024)            /* top-k slots per token any kernel accepts */                    \
  C(kLayoutThreads, 256)                                                                          \
  C(kNotifyThreads, 1024)                                                                         \
  C(kDispatchThreads, 512)                                                                        \
  C(kCombineThreads, 1024)                                                                        \
  C(kCopyThreads, 512)                                                                            \
  C(kLlThreads, 512)                                                                              \
  C(kBulkDispatchMaxWarps, 16)                                                                    \
  C(kBulkDispatchMaxStages, 8)

#define EP4J_DEFINE_CONSTANT(name, value) constexpr int name = value;
EP4J_CONSTANTS(EP4J_DEFINE_CONSTANT)
#undef EP4J_DEFINE_CONSTANT

// ------------------------------------------------------------------------------ enums

// What the kernels found, in ErrorRecord::code.
#define EP4J_ERROR_CODES(E)   \
  E(kOk, 0)                   \
  E(kTimeout, 1)              \
  E(kExpertOutOfRange, 2)     \
  E(kWorstTokensOverflow, 3)  \
  E(kLlTopkMismatch, 4)

// Which operation's kernel wrote the record (ErrorRecord::operation, and the `operation` field
// of the parameter structs).
#define EP4J_OPERATIONS(E) \
  E(kOpLayout, 1)          \
  E(kOpNotify, 2)          \
  E(kOpDispatch, 3)        \
  E(kOpCombine, 4)         \
  E(kOpLlDispatch, 5)      \
  E(kOpLlCombine, 6)

// What a wait that timed out was waiting for (ErrorRecord::detail of a kTimeout).
#define EP4J_WAITS(E)            \
  E(kWaitNotify, 0)              \
  E(kWaitDispatchArrival, 1)     \
  E(kWaitCombineReady, 2)        \
  E(kWaitCombineDone, 3)         \
  E(kWaitLlDispatchFree, 4)      \
  E(kWaitLlDispatchData, 5)      \
  E(kWaitLlCombineFree, 6)       \
  E(kWaitLlCombineData, 7)

// Normal-path signal words: each rank's signal array is [kind][source rank] u64.
#define EP4J_SIGNAL_KINDS(E) \
  E(kNotify, 0)              \
  E(kDispatchArrive, 1)      \
  E(kCombineReady, 2)        \
  E(kCombineDone, 3)         \
  E(kNumSignalKinds, 4)

// Low-latency data formats (LlParams::mode).
#define EP4J_LL_MODES(E)   \
  E(kLlBf16, 0)            \
  E(kLlFp8, 1)             \
  E(kLlFp8RoundScale, 2)   \
  E(kLlFp8Ue8m0, 3)

#define EP4J_ENUMS(X)                  \
  X(ErrorCode, EP4J_ERROR_CODES)       \
  X(Operation, EP4J_OPERATIONS)        \
  X(WaitKind, EP4J_WAITS)              \
  X(SignalKind, EP4J_SIGNAL_KINDS)     \
  X(LlMode, EP4J_LL_MODES)

#define EP4J_ENUMERATOR(name, value) name = value,
#define EP4J_DEFINE_ENUM(Name, VALUES) enum Name : int { VALUES(EP4J_ENUMERATOR) };
EP4J_ENUMS(EP4J_DEFINE_ENUM)
#undef EP4J_DEFINE_ENUM
#undef EP4J_ENUMERATOR

// ------------------------------------------------------------------------------ structs
// F(type, name) is one field, A(type, name, n) a fixed array. Comments must be /* */: a line
// comment would swallow the macro's line continuation.

struct ErrorRecord;

// Host-mapped; the first error of a call wins (CAS on code). The host reads it after the call.
#define EP4J_ERROR_RECORD(F, A) \
  F(int, code)                  \
  F(int, operation)             \
  F(int, peer)                  \
  F(int, pad)                   \
  F(long long, seen)            \
  F(long long, expected)        \
  F(long long, detail)

#define EP4J_LAYOUT_PARAMS(F, A)                                        \
  F(const void*, topk_idx)          /* [T, K] int64 or int32 */         \
  F(int, idx_is_64)                                                     \
  F(int, num_tokens)                                                    \
  F(int, topk)                                                          \
  F(int, num_experts)                                                   \
  F(int, ranks)                                                         \
  F(int, local_experts)                                                 \
  F(int*, tokens_per_rank)          /* [R], zeroed before the launch */ \
  F(int*, tokens_per_expert)        /* [E], zeroed before the launch */ \
  F(uint8_t*, is_token_in_rank)     /* [T, R] */                        \
  F(ErrorRecord*, error)

#define EP4J_NOTIFY_PARAMS(F, A)                                                              \
  F(int, rank)                                                                                \
  F(int, ranks)                                                                               \
  F(int, num_tokens)                                                                          \
  F(int, num_experts)                                                                         \
  F(int, local_experts)                                                                       \
  F(int, expert_alignment)                                                                    \
  F(int, worst_rows)                   /* > 0: rows each receiver allocated; more is an error */ \
  F(const uint8_t*, is_token_in_rank)  /* [T, R] */                                           \
  F(const int*, tokens_per_expert)     /* [E] from the layout */                              \
  A(int*, mailbox, kMaxRanks)          /* each rank's mailbox: [2][kMaxRanks][row] ints */     \
  A(unsigned long long*, signals, kMaxRanks)                                                  \
  F(unsigned long long, seq)                                                                  \
  F(long long, timeout_ns)                                                                    \
  F(int*, send_row)                    /* out [T, R]: row of token t on rank j, or -1 */      \
  F(int*, recv_offsets)                /* out [R + 1] */                                      \
  F(int*, recv_tokens_per_expert)      /* out [L], aligned */                                 \
  F(int*, recv_total)                  /* out: rows this rank receives */                     \
  F(int*, host_summary)                /* out, host-mapped: [flag (u64), total, L counts] */  \
  F(ErrorRecord*, error)

#define EP4J_DISPATCH_PARAMS(F, A)                                                          \
  F(int, rank)                                                                              \
  F(int, ranks)                                                                             \
  F(int, num_tokens)                                                                        \
  F(int, row_bytes)                  /* bytes of one x row */                               \
  F(int, scale_bytes)                /* bytes of one scales row, 0 without scales */        \
  F(int, topk)                       /* 0 without topk */                                   \
  F(int, idx_is_64)                                                                        \
  F(int, local_experts)                                                                     \
  F(int, worst_rows)                 /* > 0: fill rows [recv_total, worst_rows) */          \
  F(int, operation)                                                                         \
  F(int, order)                      /* 0: peers' items first; 1: destinations interleaved */ \
  F(const uint8_t*, x)                                                                      \
  F(const uint8_t*, scales)                                                                 \
  F(const void*, topk_idx)                                                                  \
  F(const float*, topk_weights)                                                             \
  F(const uint8_t*, is_token_in_rank) /* [T, R] */                                          \
  F(const int*, send_row)            /* [T, R] */                                           \
  F(const int*, recv_total)          /* this rank's received rows (worst mode tail fill) */ \
  A(uint8_t*, out_x, kMaxRanks)                                                             \
  A(uint8_t*, out_scales, kMaxRanks)                                                        \
  A(void*, out_idx, kMaxRanks)                                                              \
  A(float*, out_weights, kMaxRanks)                                                         \
  A(int*, out_source, kMaxRanks)                                                            \
  A(unsigned long long*, signals, kMaxRanks)                                                \
  F(unsigned int*, block_counter)                                                           \
  F(unsigned int*, task_counter)                                                            \
  F(unsigned long long, seq)                                                                \
  F(long long, timeout_ns)                                                                  \
  F(ErrorRecord*, error)

#define EP4J_COMBINE_PARAMS(F, A)                                                      \
  F(int, rank)                                                                         \
  F(int, ranks)                                                                        \
  F(int, num_tokens)                                                                   \
  F(int, hidden)                     /* bf16 elements per row, multiple of 8 */        \
  F(int, topk)                       /* weights per row, 0 without weights */          \
  F(int, operation)                                                                    \
  F(const uint8_t*, is_token_in_rank) /* [T, R] */                                     \
  F(const int*, send_row)            /* [T, R] */                                      \
  A(const __nv_bfloat16*, x, kMaxRanks) /* every rank's expert output [rows_j, H] */   \
  A(const float*, weights, kMaxRanks)   /* every rank's received weights, or null */   \
  F(const __nv_bfloat16*, bias0)                                                       \
  F(const __nv_bfloat16*, bias1)                                                       \
  F(__nv_bfloat16*, out)             /* [T, H] */                                      \
  F(float*, out_weights)             /* [T, K] */                                      \
  A(unsigned long long*, signals, kMaxRanks)                                           \
  F(unsigned int*, block_counter)                                                      \
  F(unsigned long long, seq)                                                           \
  F(long long, timeout_ns)                                                             \
  F(ErrorRecord*, error)

#define EP4J_LL_PARAMS(F, A)                                                                     \
  A(uint8_t*, peer_base, kMaxRanks)  /* every rank's peer-visible region */                     \
  A(uint8_t*, host_base, kMaxRanks)  /* every rank's host-mapped mirror words */                \
  F(const uint8_t*, x)               /* dispatch: [T, H] bf16 */                                \
  F(const void*, topk_idx)           /* [T, K] int64 or int32 */                                \
  F(const float*, weights)           /* combine: [T, K] */                                      \
  F(const uint8_t*, y)               /* combine: [L, R*N, H] bf16 */                            \
  F(uint8_t*, out)                   /* combine: [T, H] bf16 */                                 \
  F(uint8_t*, recv_x)                /* slot's packed x [L, R*N, H] */                          \
  F(uint8_t*, recv_scales)           /* [L, R*N, scale_bytes / 4] */                            \
  F(int*, recv_count)                /* [L] */                                                  \
  F(int*, source_token)              /* [L, R*N] */                                             \
  F(int*, ranges)                    /* [L, R, 2] */                                            \
  F(int*, first_k)                   /* [L, R*N] */                                             \
  F(int*, dtopk)                     /* [N, Kmax] the dispatch's topk */                        \
  F(unsigned int*, counter)          /* last-block counter (local) */                           \
  F(ErrorRecord*, error)                                                                        \
  F(long long, o_data)               /* byte offsets of this slot's parts in every region */    \
  F(long long, o_list)                                                                          \
  F(long long, o_cnt)                                                                           \
  F(long long, o_creg)                                                                          \
  F(long long, o_sig)                /* this slot's data signals [kMaxRanks] */                 \
  F(long long, o_free)               /* this slot's free words [kMaxRanks] */                   \
  F(unsigned long long, target)      /* wait until data signal >= target */                     \
  F(unsigned long long, free_target) /* wait until free word >= free_target */                  \
  F(unsigned long long, publish)     /* the free value to publish */                            \
  F(unsigned long long, sent)        /* send kernels: this call's number on the slot */         \
  F(long long, timeout_ns)                                                                      \
  F(int, rank)                                                                                  \
  F(int, ranks)                                                                                 \
  F(int, num_tokens)                 /* T of this rank (the dispatch's T for combine) */        \
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
  F(int, operation)

#define EP4J_STRUCTS(S)                     \
  S(ErrorRecord, EP4J_ERROR_RECORD)         \
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
// The host reads the record with 4- and 8-byte loads at fixed offsets.
static_assert(sizeof(ErrorRecord) == 40 && offsetof(ErrorRecord, seen) == 16, "ErrorRecord layout");
// A low-latency list entry packs (k << kLlTokenBits) | token into a non-negative int32.
static_assert(((long long)(kMaxTopk - 1) << kLlTokenBits) <= 0x7FFFFFFFLL, "top-k slot must fit a list entry");
// Ranks fit the bit masks (one bit per rank) and the per-rank shared arrays.
static_assert(kMaxRanks <= 32, "a rank mask is one 32-bit word");

}  // namespace ep4j
