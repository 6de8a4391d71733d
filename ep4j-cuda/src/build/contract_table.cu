// Prints the kernel contract (contract.cuh) as a table the Java side checks its declarations
// against: every struct's size and alignment, every field's type, offset and array length,
// every constant and enum value. Host code only; the build runs it on a machine with no GPU.
//
// Format, one item per line ('#' lines are comments):
//   struct <Name> <size> <align>
//   field <Struct> <name> <kind> <offset> <count>     kind: i32 u32 i64 u64 f32 ptr; count 0 = scalar
//   constant <name> <value>
//   enum <Enum> <name> <value>
//
// and, from cuda.h, the driver's structs and constants that the Java bindings declare
// (ep4j.cuda.driver.DriverStructs, CudaConstants), checked by a CI test the same way:
//   driver_struct <Name> <size> <align>
//   driver_field <Struct> <path> <offset> <size>       path: field names joined by '.'
//   driver_constant <name> <value>
#include <cuda.h>
#include <cstddef>
#include <cstdio>
#include <type_traits>
#include "contract.cuh"
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/uio.h>

namespace {

template <typename T>
const char* kind_of() {
  if constexpr (std::is_pointer_v<T>) return "ptr";
  else if constexpr (std::is_same_v<T, int>) return "i32";
  else if constexpr (std::is_same_v<T, unsigned int>) return "u32";
  else if constexpr (std::is_same_v<T, long long>) return "i64";
  else if constexpr (std::is_same_v<T, unsigned long long>) return "u64";
  else if constexpr (std::is_same_v<T, float>) return "f32";
  else static_assert(sizeof(T) == 0, "a contract field of a type the Java side cannot name");
}

void field(const char* s, const char* name, const char* kind, size_t offset, int count) {
  std::printf("field %s %s %s %zu %d\n", s, name, kind, offset, count);
}

}  // namespace

int main() {
  using namespace ep4j;
  std::printf("# ep4j kernel contract, printed by contract_table.cu from contract.cuh\n");
#define ROW_CONSTANT(name, value) std::printf("constant %s %d\n", #name, name);
  EP4J_CONSTANTS(ROW_CONSTANT)
#define ROW_ENUMERATOR(name, value) std::printf("enum %s %s %d\n", enum_name, #name, (int)name);
#define ROW_ENUM(Name, VALUES) { const char* enum_name = #Name; VALUES(ROW_ENUMERATOR) }
  EP4J_ENUMS(ROW_ENUM)
#define ROW_FIELD(type, name) field(struct_name, #name, kind_of<type>(), offsetof(S, name), 0);
#define ROW_ARRAY(type, name, n) field(struct_name, #name, kind_of<type>(), offsetof(S, name), n);
#define ROW_STRUCT(Name, FIELDS)                                                   \
  {                                                                                \
    using S = Name;                                                                \
    const char* struct_name = #Name;                                               \
    std::printf("struct %s %zu %zu\n", struct_name, sizeof(S), alignof(S));        \
    FIELDS(ROW_FIELD, ROW_ARRAY)                                                   \
  }
  EP4J_STRUCTS(ROW_STRUCT)

  std::printf("# driver structs and constants, from cuda.h (CUDA_VERSION %d)\n", CUDA_VERSION);
#define DRIVER_STRUCT(S) std::printf("driver_struct %s %zu %zu\n", #S, sizeof(S), alignof(S));
#define DRIVER_FIELD(S, path) \
  std::printf("driver_field %s %s %zu %zu\n", #S, #path, offsetof(S, path), sizeof(static_cast<S*>(nullptr)->path));
  DRIVER_STRUCT(CUmemLocation)
  DRIVER_FIELD(CUmemLocation, type)
  DRIVER_FIELD(CUmemLocation, id)
  DRIVER_STRUCT(CUmemAllocationProp)
  DRIVER_FIELD(CUmemAllocationProp, type)
  DRIVER_FIELD(CUmemAllocationProp, requestedHandleTypes)
  DRIVER_FIELD(CUmemAllocationProp, location.type)
  DRIVER_FIELD(CUmemAllocationProp, location.id)
  DRIVER_FIELD(CUmemAllocationProp, win32HandleMetaData)
  DRIVER_FIELD(CUmemAllocationProp, allocFlags.compressionType)
  DRIVER_FIELD(CUmemAllocationProp, allocFlags.gpuDirectRDMACapable)
  DRIVER_FIELD(CUmemAllocationProp, allocFlags.usage)
  DRIVER_FIELD(CUmemAllocationProp, allocFlags.reserved)
  DRIVER_STRUCT(CUmemAccessDesc)
  DRIVER_FIELD(CUmemAccessDesc, location.type)
  DRIVER_FIELD(CUmemAccessDesc, location.id)
  DRIVER_FIELD(CUmemAccessDesc, flags)
  DRIVER_STRUCT(CUlaunchAttribute)
  DRIVER_FIELD(CUlaunchAttribute, id)
  DRIVER_FIELD(CUlaunchAttribute, pad)
  DRIVER_FIELD(CUlaunchAttribute, value)
  DRIVER_STRUCT(CUlaunchConfig)
  DRIVER_FIELD(CUlaunchConfig, gridDimX)
  DRIVER_FIELD(CUlaunchConfig, gridDimY)
  DRIVER_FIELD(CUlaunchConfig, gridDimZ)
  DRIVER_FIELD(CUlaunchConfig, blockDimX)
  DRIVER_FIELD(CUlaunchConfig, blockDimY)
  DRIVER_FIELD(CUlaunchConfig, blockDimZ)
  DRIVER_FIELD(CUlaunchConfig, sharedMemBytes)
  DRIVER_FIELD(CUlaunchConfig, hStream)
  DRIVER_FIELD(CUlaunchConfig, attrs)
  DRIVER_FIELD(CUlaunchConfig, numAttrs)
  // The libc structs and constants of passing a descriptor over a Unix socket (ep4j.cuda.ipc.Posix).
  DRIVER_STRUCT(sockaddr_un)
  DRIVER_FIELD(sockaddr_un, sun_family)
  DRIVER_FIELD(sockaddr_un, sun_path)
  DRIVER_STRUCT(iovec)
  DRIVER_FIELD(iovec, iov_base)
  DRIVER_FIELD(iovec, iov_len)
  DRIVER_STRUCT(msghdr)
  DRIVER_FIELD(msghdr, msg_name)
  DRIVER_FIELD(msghdr, msg_namelen)
  DRIVER_FIELD(msghdr, msg_iov)
  DRIVER_FIELD(msghdr, msg_iovlen)
  DRIVER_FIELD(msghdr, msg_control)
  DRIVER_FIELD(msghdr, msg_controllen)
  DRIVER_FIELD(msghdr, msg_flags)
  DRIVER_STRUCT(cmsghdr)
  DRIVER_FIELD(cmsghdr, cmsg_len)
  DRIVER_FIELD(cmsghdr, cmsg_level)
  DRIVER_FIELD(cmsghdr, cmsg_type)
#define DRIVER_CONSTANT(name) std::printf("driver_constant %s %lld\n", #name, static_cast<long long>(name));
  DRIVER_CONSTANT(AF_UNIX)
  DRIVER_CONSTANT(SOCK_STREAM)
  DRIVER_CONSTANT(SOL_SOCKET)
  DRIVER_CONSTANT(SCM_RIGHTS)
  DRIVER_CONSTANT(SHUT_RDWR)
  // Every constant of ep4j.cuda.driver.CudaConstants (the test fails on a name missing here).
  DRIVER_CONSTANT(CUDA_SUCCESS)
  DRIVER_CONSTANT(CUDA_ERROR_INVALID_VALUE)
  DRIVER_CONSTANT(CUDA_ERROR_OUT_OF_MEMORY)
  DRIVER_CONSTANT(CUDA_ERROR_NOT_INITIALIZED)
  DRIVER_CONSTANT(CUDA_ERROR_DEINITIALIZED)
  DRIVER_CONSTANT(CUDA_ERROR_STUB_LIBRARY)
  DRIVER_CONSTANT(CUDA_ERROR_NO_DEVICE)
  DRIVER_CONSTANT(CUDA_ERROR_INVALID_DEVICE)
  DRIVER_CONSTANT(CUDA_ERROR_INVALID_IMAGE)
  DRIVER_CONSTANT(CUDA_ERROR_INVALID_CONTEXT)
  DRIVER_CONSTANT(CUDA_ERROR_NO_BINARY_FOR_GPU)
  DRIVER_CONSTANT(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED)
  DRIVER_CONSTANT(CUDA_ERROR_INVALID_HANDLE)
  DRIVER_CONSTANT(CUDA_ERROR_NOT_FOUND)
  DRIVER_CONSTANT(CUDA_ERROR_NOT_READY)
  DRIVER_CONSTANT(CUDA_ERROR_ILLEGAL_ADDRESS)
  DRIVER_CONSTANT(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED)
  DRIVER_CONSTANT(CUDA_ERROR_LAUNCH_FAILED)
  DRIVER_CONSTANT(CUDA_ERROR_NOT_SUPPORTED)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_WARP_SIZE)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_CLOCK_RATE)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED)
  DRIVER_CONSTANT(CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED)
  DRIVER_CONSTANT(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
  DRIVER_CONSTANT(CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)
  DRIVER_CONSTANT(CU_FUNC_ATTRIBUTE_NUM_REGS)
  DRIVER_CONSTANT(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
  DRIVER_CONSTANT(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
  DRIVER_CONSTANT(CU_POINTER_ATTRIBUTE_CONTEXT)
  DRIVER_CONSTANT(CU_POINTER_ATTRIBUTE_MEMORY_TYPE)
  DRIVER_CONSTANT(CU_POINTER_ATTRIBUTE_DEVICE_POINTER)
  DRIVER_CONSTANT(CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL)
  DRIVER_CONSTANT(CU_POINTER_ATTRIBUTE_RANGE_SIZE)
  DRIVER_CONSTANT(CU_STREAM_DEFAULT)
  DRIVER_CONSTANT(CU_STREAM_NON_BLOCKING)
  DRIVER_CONSTANT(CU_EVENT_DEFAULT)
  DRIVER_CONSTANT(CU_EVENT_DISABLE_TIMING)
  DRIVER_CONSTANT(CU_MEMHOSTALLOC_PORTABLE)
  DRIVER_CONSTANT(CU_MEMHOSTALLOC_DEVICEMAP)
  DRIVER_CONSTANT(CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS)
  DRIVER_CONSTANT(CU_IPC_HANDLE_SIZE)
  DRIVER_CONSTANT(CU_STREAM_CAPTURE_MODE_GLOBAL)
  DRIVER_CONSTANT(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
  DRIVER_CONSTANT(CU_STREAM_CAPTURE_MODE_RELAXED)
  DRIVER_CONSTANT(CU_MEM_ALLOCATION_TYPE_PINNED)
  DRIVER_CONSTANT(CU_MEM_HANDLE_TYPE_NONE)
  DRIVER_CONSTANT(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
  DRIVER_CONSTANT(CU_MEM_LOCATION_TYPE_DEVICE)
  DRIVER_CONSTANT(CU_MEM_ACCESS_FLAGS_PROT_NONE)
  DRIVER_CONSTANT(CU_MEM_ACCESS_FLAGS_PROT_READ)
  DRIVER_CONSTANT(CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
  DRIVER_CONSTANT(CU_MEM_ALLOC_GRANULARITY_MINIMUM)
  DRIVER_CONSTANT(CU_MEM_ALLOC_GRANULARITY_RECOMMENDED)
  DRIVER_CONSTANT(CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)
  DRIVER_CONSTANT(CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT)
  DRIVER_CONSTANT(CU_MEMPOOL_ATTR_USED_MEM_CURRENT)
  return 0;
}
