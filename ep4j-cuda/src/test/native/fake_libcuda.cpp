// A stand-in for libcuda.so.1 for the CI tests of ep4j's memory classes (no GPU there): host
// memory plays device memory, and every call the classes make is implemented strictly after
// cuda.h, which this file includes, so each definition must match the real prototype. Each call
// checks its arguments (struct fields, sizes, order of teardown, which device a call runs on and
// which devices may touch which memory) and returns CUDA_ERROR_INVALID_VALUE, printing why, where
// the real driver would fail or where ep4j breaks a rule of its own. Calls ep4j must not make
// (cuMemAlloc's cousins, cuCtxEnablePeerAccess, ...) are absent: the binding turns them into a
// CudaUnavailableException.
//
// Built by FakeDriverTest (nvcc -shared) and loaded with -Dep4j.cuda.library; control functions
// ep4jFake* let a test inject a failure, read the call log and count what is still alive.
#include <cuda.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

constexpr int kDevices = 2;
constexpr size_t kMinGranularity = 64 << 10;
constexpr size_t kRecommendedGranularity = 2 << 20;

struct Allocation {        // cuMemCreate
  size_t size;
  int device;
  unsigned handleTypes;
  char* backing;
  int memfd;
  int handles;             // cuMemCreate + imports, each paired with a cuMemRelease
  int mappings;
};
struct Mapping {           // cuMemMap
  size_t size;
  uint64_t allocation;
  unsigned long long access[kDevices];
};
struct PoolBlock {         // cuMemAllocFromPoolAsync / cuMemAlloc
  size_t size;
  int device;
  bool pool;
};
struct Pool {
  int device;
  unsigned long long threshold = 0;
  unsigned long long reserved = 0;
  unsigned long long used = 0;
  std::multimap<size_t, char*> cached;
};
struct FakeContext {
  int device;
  int retained;
};
struct FakeStream {
  int device;
};

std::recursive_mutex lock;
std::map<uint64_t, Allocation> allocations;        // by generic handle (several handles may share one)
std::map<uint64_t, uint64_t> handles;              // handle -> allocation id
std::map<uint64_t, size_t> reservations;           // va -> size
std::map<uint64_t, Mapping> mappings;              // va -> mapping
std::map<uint64_t, PoolBlock> blocks;              // host address -> block
Pool pools[kDevices];
FakeContext contexts[kDevices];
uint64_t nextHandle = 0x100;
uint64_t nextVa = 0x7e0000000000ull;
thread_local int current = -1;
std::string log;
std::string failSymbol;
int failAfter = 0;

CUresult bad(const char* call, const char* why) {
  std::fprintf(stderr, "[fake libcuda] %s: %s\n", call, why);
  return CUDA_ERROR_INVALID_VALUE;
}

// Logs the call; true when a test asked for this call to fail now.
bool enter(const char* call) {
  log += call;
  log += ' ';
  if (failSymbol == call) {
    if (failAfter-- == 0) {
      failSymbol.clear();
      std::fprintf(stderr, "[fake libcuda] %s: failing as asked\n", call);
      return true;
    }
  }
  return false;
}

#define ENTER(call)                                   \
  std::lock_guard<std::recursive_mutex> guard(lock); \
  if (enter(call)) return CUDA_ERROR_INVALID_VALUE;

bool validDevice(int d) { return d >= 0 && d < kDevices; }

const char* checkProp(const CUmemAllocationProp* p) {
  if (p == nullptr) return "prop is NULL";
  if (p->type != CU_MEM_ALLOCATION_TYPE_PINNED) return "prop.type is not PINNED";
  if (p->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE &&
      p->requestedHandleTypes != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)
    return "prop.requestedHandleTypes is neither NONE nor POSIX_FILE_DESCRIPTOR";
  if (p->location.type != CU_MEM_LOCATION_TYPE_DEVICE) return "prop.location.type is not DEVICE";
  if (!validDevice(p->location.id)) return "prop.location.id is no device";
  if (p->win32HandleMetaData != nullptr) return "prop.win32HandleMetaData is not NULL";
  const unsigned char* flags = reinterpret_cast<const unsigned char*>(&p->allocFlags);
  for (size_t i = 0; i < sizeof(p->allocFlags); i++)
    if (flags[i] != 0) return "prop.allocFlags is not zero";
  return nullptr;
}

// The host memory behind [va, va + n) if the current device may touch all of it.
char* translate(uint64_t va, size_t n, const char* call) {
  if (current < 0) {
    bad(call, "no current context");
    return nullptr;
  }
  auto m = mappings.upper_bound(va);
  if (m != mappings.begin()) {
    --m;
    if (va >= m->first && va + n <= m->first + m->second.size) {
      if (m->second.access[current] != CU_MEM_ACCESS_FLAGS_PROT_READWRITE) {
        bad(call, "the current device has no READWRITE access to this mapping");
        return nullptr;
      }
      return allocations[m->second.allocation].backing + (va - m->first);
    }
  }
  auto b = blocks.upper_bound(va);
  if (b != blocks.begin()) {
    --b;
    if (va >= b->first && va + n <= b->first + b->second.size) {
      if (b->second.device != current) {
        bad(call, "a pool block of another device (no peer access in this fake)");
        return nullptr;
      }
      return reinterpret_cast<char*>(va);
    }
  }
  bad(call, "an address range that is not (wholly) mapped");
  return nullptr;
}

bool checkStream(CUstream s, const char* call) {
  if (current < 0) return bad(call, "no current context"), false;
  if (s != nullptr && reinterpret_cast<FakeStream*>(s)->device != current)
    return bad(call, "a stream of another device than the current context's"), false;
  return true;
}

void freeAllocationIfUnused(uint64_t id) {
  Allocation& a = allocations[id];
  if (a.handles == 0 && a.mappings == 0) {
    munmap(a.backing, a.size);
    close(a.memfd);
    allocations.erase(id);
  }
}

}  // namespace

extern "C" {

// ---- control, for the tests ----
void ep4jFakeFail(const char* symbol, int after) {
  std::lock_guard<std::recursive_mutex> guard(lock);
  failSymbol = symbol;
  failAfter = after;
}
const char* ep4jFakeLog() {
  std::lock_guard<std::recursive_mutex> guard(lock);
  return log.c_str();
}
void ep4jFakeLogReset() {
  std::lock_guard<std::recursive_mutex> guard(lock);
  log.clear();
}
int ep4jFakeLive() {
  std::lock_guard<std::recursive_mutex> guard(lock);
  return static_cast<int>(allocations.size() + reservations.size() + mappings.size() + blocks.size());
}

// ---- initialisation, errors, devices, contexts ----
CUresult cuInit(unsigned int flags) {
  ENTER("cuInit");
  for (int d = 0; d < kDevices; d++) contexts[d].device = d, pools[d].device = d;
  return flags == 0 ? CUDA_SUCCESS : bad("cuInit", "flags");
}
CUresult cuDriverGetVersion(int* v) { ENTER("cuDriverGetVersion"); *v = CUDA_VERSION; return CUDA_SUCCESS; }
CUresult cuGetErrorName(CUresult e, const char** s) {
  *s = e == CUDA_SUCCESS ? "CUDA_SUCCESS" : e == CUDA_ERROR_INVALID_VALUE ? "CUDA_ERROR_INVALID_VALUE" : "CUDA_ERROR_UNKNOWN";
  return CUDA_SUCCESS;
}
CUresult cuGetErrorString(CUresult e, const char** s) {
  *s = e == CUDA_ERROR_INVALID_VALUE ? "invalid argument (fake libcuda)" : "fake libcuda";
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetCount(int* n) { ENTER("cuDeviceGetCount"); *n = kDevices; return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice* d, int ordinal) {
  ENTER("cuDeviceGet");
  if (!validDevice(ordinal)) return bad("cuDeviceGet", "ordinal");
  *d = ordinal;
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
  ENTER("cuDeviceGetName");
  std::snprintf(name, len, "Fake GPU %d", d);
  return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int* v, CUdevice_attribute a, CUdevice d) {
  ENTER("cuDeviceGetAttribute");
  if (!validDevice(d)) return bad("cuDeviceGetAttribute", "device");
  switch (a) {
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED:
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *v = 1; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
    default: *v = 0;
  }
  return CUDA_SUCCESS;
}
CUresult cuDeviceCanAccessPeer(int* can, CUdevice d, CUdevice peer) {
  ENTER("cuDeviceCanAccessPeer");
  if (!validDevice(d) || !validDevice(peer)) return bad("cuDeviceCanAccessPeer", "device");
  *can = 1;
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice d) {
  ENTER("cuDevicePrimaryCtxRetain");
  if (!validDevice(d)) return bad("cuDevicePrimaryCtxRetain", "device");
  contexts[d].retained++;
  *c = reinterpret_cast<CUcontext>(&contexts[d]);
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease(CUdevice d) {
  ENTER("cuDevicePrimaryCtxRelease_v2");
  if (!validDevice(d) || contexts[d].retained <= 0) return bad("cuDevicePrimaryCtxRelease_v2", "not retained");
  contexts[d].retained--;
  return CUDA_SUCCESS;
}
CUresult cuCtxSetCurrent(CUcontext c) {
  ENTER("cuCtxSetCurrent");
  if (c == nullptr) { current = -1; return CUDA_SUCCESS; }
  FakeContext* f = reinterpret_cast<FakeContext*>(c);
  if (f < contexts || f >= contexts + kDevices || f->retained <= 0) return bad("cuCtxSetCurrent", "no retained context");
  current = f->device;
  return CUDA_SUCCESS;
}

// ---- streams, fills, copies ----
CUresult cuStreamCreate(CUstream* s, unsigned int flags) {
  ENTER("cuStreamCreate");
  if (current < 0) return bad("cuStreamCreate", "no current context");
  *s = reinterpret_cast<CUstream>(new FakeStream{current});
  return CUDA_SUCCESS;
}
CUresult cuStreamDestroy(CUstream s) {
  ENTER("cuStreamDestroy_v2");
  if (s == nullptr) return bad("cuStreamDestroy_v2", "NULL stream");
  delete reinterpret_cast<FakeStream*>(s);
  return CUDA_SUCCESS;
}
CUresult cuStreamSynchronize(CUstream s) {
  ENTER("cuStreamSynchronize");
  if (!checkStream(s, "cuStreamSynchronize")) return CUDA_ERROR_INVALID_VALUE;
  Pool& p = pools[s ? reinterpret_cast<FakeStream*>(s)->device : current];
  while (p.reserved > p.threshold && !p.cached.empty()) {  // a pool gives cached memory back here
    auto c = p.cached.begin();
    p.reserved -= c->first;
    std::free(c->second);
    p.cached.erase(c);
  }
  return CUDA_SUCCESS;
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int v, size_t n, CUstream s) {
  ENTER("cuMemsetD32Async");
  if (!checkStream(s, "cuMemsetD32Async")) return CUDA_ERROR_INVALID_VALUE;
  if (dst % 4 != 0) return bad("cuMemsetD32Async", "unaligned");
  char* p = translate(dst, n * 4, "cuMemsetD32Async");
  if (!p) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < n; i++) std::memcpy(p + 4 * i, &v, 4);
  return CUDA_SUCCESS;
}
CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s) {
  ENTER("cuMemsetD8Async");
  if (!checkStream(s, "cuMemsetD8Async")) return CUDA_ERROR_INVALID_VALUE;
  char* p = translate(dst, n, "cuMemsetD8Async");
  if (!p) return CUDA_ERROR_INVALID_VALUE;
  std::memset(p, v, n);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t n, CUstream s) {
  ENTER("cuMemcpyHtoDAsync_v2");
  if (!checkStream(s, "cuMemcpyHtoDAsync_v2")) return CUDA_ERROR_INVALID_VALUE;
  char* p = translate(dst, n, "cuMemcpyHtoDAsync_v2");
  if (!p) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(p, src, n);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t n, CUstream s) {
  ENTER("cuMemcpyDtoHAsync_v2");
  if (!checkStream(s, "cuMemcpyDtoHAsync_v2")) return CUDA_ERROR_INVALID_VALUE;
  char* p = translate(src, n, "cuMemcpyDtoHAsync_v2");
  if (!p) return CUDA_ERROR_INVALID_VALUE;
  std::memcpy(dst, p, n);
  return CUDA_SUCCESS;
}
static CUresult copyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t n, const char* call) {
  char* d = translate(dst, n, call);
  char* s = d ? translate(src, n, call) : nullptr;
  if (!s) return CUDA_ERROR_INVALID_VALUE;
  std::memmove(d, s, n);
  return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoD(CUdeviceptr dst, CUdeviceptr src, size_t n) {
  ENTER("cuMemcpyDtoD_v2");
  return copyDtoD(dst, src, n, "cuMemcpyDtoD_v2");
}
CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
  ENTER("cuMemcpyDtoDAsync_v2");
  if (!checkStream(s, "cuMemcpyDtoDAsync_v2")) return CUDA_ERROR_INVALID_VALUE;
  return copyDtoD(dst, src, n, "cuMemcpyDtoDAsync_v2");
}

// ---- plain allocations (only to be counted: ep4j's pools must not use them once warm) ----
CUresult cuMemAlloc(CUdeviceptr* p, size_t n) {
  ENTER("cuMemAlloc_v2");
  if (current < 0 || n == 0) return bad("cuMemAlloc_v2", "no context or 0 bytes");
  char* m = static_cast<char*>(std::malloc(n));
  blocks[reinterpret_cast<uint64_t>(m)] = PoolBlock{n, current, false};
  *p = reinterpret_cast<CUdeviceptr>(m);
  return CUDA_SUCCESS;
}
CUresult cuMemFree(CUdeviceptr p) {
  ENTER("cuMemFree_v2");
  auto b = blocks.find(p);
  if (b == blocks.end() || b->second.pool) return bad("cuMemFree_v2", "not from cuMemAlloc");
  std::free(reinterpret_cast<void*>(p));
  blocks.erase(b);
  return CUDA_SUCCESS;
}

// ---- virtual memory management ----
CUresult cuMemGetAllocationGranularity(size_t* g, const CUmemAllocationProp* prop, CUmemAllocationGranularity_flags o) {
  ENTER("cuMemGetAllocationGranularity");
  if (const char* why = checkProp(prop)) return bad("cuMemGetAllocationGranularity", why);
  if (o != CU_MEM_ALLOC_GRANULARITY_MINIMUM && o != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED)
    return bad("cuMemGetAllocationGranularity", "option");
  *g = o == CU_MEM_ALLOC_GRANULARITY_MINIMUM ? kMinGranularity : kRecommendedGranularity;
  return CUDA_SUCCESS;
}
CUresult cuMemCreate(CUmemGenericAllocationHandle* h, size_t size, const CUmemAllocationProp* prop,
                     unsigned long long flags) {
  ENTER("cuMemCreate");
  if (const char* why = checkProp(prop)) return bad("cuMemCreate", why);
  if (size == 0 || size % kMinGranularity != 0) return bad("cuMemCreate", "size is no multiple of the granularity");
  if (flags != 0) return bad("cuMemCreate", "flags");
  int fd = memfd_create("fake-cuda", 0);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  std::memset(m, 0x5a, size);  // device memory starts with garbage
  uint64_t id = nextHandle++;
  allocations[id] = Allocation{size, prop->location.id, static_cast<unsigned>(prop->requestedHandleTypes),
                               static_cast<char*>(m), fd, 1, 0};
  handles[id] = id;
  *h = id;
  return CUDA_SUCCESS;
}
CUresult cuMemRelease(CUmemGenericAllocationHandle h) {
  ENTER("cuMemRelease");
  auto it = handles.find(h);
  if (it == handles.end()) return bad("cuMemRelease", "unknown or released handle");
  uint64_t id = it->second;
  handles.erase(it);
  allocations[id].handles--;
  freeAllocationIfUnused(id);
  return CUDA_SUCCESS;
}
CUresult cuMemAddressReserve(CUdeviceptr* p, size_t size, size_t align, CUdeviceptr addr, unsigned long long flags) {
  ENTER("cuMemAddressReserve");
  if (size == 0 || size % kMinGranularity != 0) return bad("cuMemAddressReserve", "size");
  if ((align & (align - 1)) != 0) return bad("cuMemAddressReserve", "alignment is no power of two");
  if (addr != 0 || flags != 0) return bad("cuMemAddressReserve", "addr/flags");
  size_t a = align > kRecommendedGranularity ? align : kRecommendedGranularity;
  nextVa = (nextVa + a - 1) / a * a;
  *p = nextVa;
  reservations[nextVa] = size;
  nextVa += size + kRecommendedGranularity;  // a gap: overruns do not land in the next range
  return CUDA_SUCCESS;
}
CUresult cuMemAddressFree(CUdeviceptr p, size_t size) {
  ENTER("cuMemAddressFree");
  auto r = reservations.find(p);
  if (r == reservations.end() || r->second != size) return bad("cuMemAddressFree", "no reservation of this address and size");
  auto m = mappings.lower_bound(p);
  if (m != mappings.end() && m->first < p + size) return bad("cuMemAddressFree", "the range is still mapped");
  reservations.erase(r);
  return CUDA_SUCCESS;
}
CUresult cuMemMap(CUdeviceptr p, size_t size, size_t offset, CUmemGenericAllocationHandle h, unsigned long long flags) {
  ENTER("cuMemMap");
  auto hi = handles.find(h);
  if (hi == handles.end()) return bad("cuMemMap", "unknown handle");
  Allocation& a = allocations[hi->second];
  if (offset != 0 || flags != 0) return bad("cuMemMap", "offset and flags must be 0");
  if (size == 0 || size % kMinGranularity != 0 || size > a.size) return bad("cuMemMap", "size");
  auto r = reservations.upper_bound(p);
  if (r == reservations.begin() || (--r, p < r->first || p + size > r->first + r->second))
    return bad("cuMemMap", "not inside a reservation");
  auto m = mappings.lower_bound(p);
  if ((m != mappings.end() && m->first < p + size) ||
      (m != mappings.begin() && (--m, m->first + m->second.size > p)))
    return bad("cuMemMap", "overlaps a mapping");
  mappings[p] = Mapping{size, hi->second, {}};
  a.mappings++;
  return CUDA_SUCCESS;
}
CUresult cuMemUnmap(CUdeviceptr p, size_t size) {
  ENTER("cuMemUnmap");
  auto m = mappings.find(p);
  if (m == mappings.end() || m->second.size != size) return bad("cuMemUnmap", "no mapping of this address and size");
  uint64_t id = m->second.allocation;
  mappings.erase(m);
  allocations[id].mappings--;
  freeAllocationIfUnused(id);
  return CUDA_SUCCESS;
}
CUresult cuMemSetAccess(CUdeviceptr p, size_t size, const CUmemAccessDesc* desc, size_t count) {
  ENTER("cuMemSetAccess");
  auto m = mappings.find(p);
  if (m == mappings.end() || m->second.size != size) return bad("cuMemSetAccess", "not a whole mapping");
  if (count == 0 || desc == nullptr) return bad("cuMemSetAccess", "no descriptors");
  for (size_t i = 0; i < count; i++) {
    if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE || !validDevice(desc[i].location.id))
      return bad("cuMemSetAccess", "descriptor location");
    if (desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE && desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READ &&
        desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
      return bad("cuMemSetAccess", "descriptor flags");
    for (size_t j = 0; j < i; j++)
      if (desc[j].location.id == desc[i].location.id) return bad("cuMemSetAccess", "a device named twice");
  }
  for (size_t i = 0; i < count; i++) m->second.access[desc[i].location.id] = desc[i].flags;
  return CUDA_SUCCESS;
}
CUresult cuMemGetAccess(unsigned long long* flags, const CUmemLocation* loc, CUdeviceptr p) {
  ENTER("cuMemGetAccess");
  if (loc == nullptr || loc->type != CU_MEM_LOCATION_TYPE_DEVICE || !validDevice(loc->id))
    return bad("cuMemGetAccess", "location");
  auto m = mappings.upper_bound(p);
  if (m == mappings.begin() || (--m, p >= m->first + m->second.size)) return bad("cuMemGetAccess", "not mapped");
  *flags = m->second.access[loc->id];
  return CUDA_SUCCESS;
}
CUresult cuMemExportToShareableHandle(void* out, CUmemGenericAllocationHandle h, CUmemAllocationHandleType type,
                                      unsigned long long flags) {
  ENTER("cuMemExportToShareableHandle");
  auto hi = handles.find(h);
  if (hi == handles.end()) return bad("cuMemExportToShareableHandle", "unknown handle");
  Allocation& a = allocations[hi->second];
  if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR || !(a.handleTypes & type) || flags != 0)
    return bad("cuMemExportToShareableHandle", "handle type not requested at cuMemCreate, or flags");
  *static_cast<int*>(out) = dup(a.memfd);
  return CUDA_SUCCESS;
}
CUresult cuMemImportFromShareableHandle(CUmemGenericAllocationHandle* h, void* osHandle, CUmemAllocationHandleType type) {
  ENTER("cuMemImportFromShareableHandle");
  if (type != CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR) return bad("cuMemImportFromShareableHandle", "type");
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(osHandle));
  struct stat want;
  if (fstat(fd, &want) != 0) return bad("cuMemImportFromShareableHandle", "osHandle is no open file descriptor");
  for (auto& [id, a] : allocations) {
    struct stat have;
    if (fstat(a.memfd, &have) == 0 && have.st_ino == want.st_ino && have.st_dev == want.st_dev) {
      uint64_t handle = nextHandle++;
      handles[handle] = id;
      a.handles++;
      *h = handle;
      return CUDA_SUCCESS;
    }
  }
  return bad("cuMemImportFromShareableHandle", "no allocation behind this file descriptor");
}

// ---- stream-ordered allocator ----
CUresult cuDeviceGetDefaultMemPool(CUmemoryPool* pool, CUdevice d) {
  ENTER("cuDeviceGetDefaultMemPool");
  if (!validDevice(d)) return bad("cuDeviceGetDefaultMemPool", "device");
  *pool = reinterpret_cast<CUmemoryPool>(&pools[d]);
  return CUDA_SUCCESS;
}
static Pool* pool(CUmemoryPool p) {
  Pool* q = reinterpret_cast<Pool*>(p);
  return q >= pools && q < pools + kDevices ? q : nullptr;
}
CUresult cuMemPoolSetAttribute(CUmemoryPool p, CUmemPool_attribute attr, void* value) {
  ENTER("cuMemPoolSetAttribute");
  Pool* q = pool(p);
  if (!q || attr != CU_MEMPOOL_ATTR_RELEASE_THRESHOLD || !value) return bad("cuMemPoolSetAttribute", "pool/attribute");
  q->threshold = *static_cast<unsigned long long*>(value);
  return CUDA_SUCCESS;
}
CUresult cuMemPoolGetAttribute(CUmemoryPool p, CUmemPool_attribute attr, void* value) {
  ENTER("cuMemPoolGetAttribute");
  Pool* q = pool(p);
  if (!q || !value) return bad("cuMemPoolGetAttribute", "pool");
  unsigned long long* v = static_cast<unsigned long long*>(value);
  switch (attr) {
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD: *v = q->threshold; break;
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT: *v = q->reserved; break;
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT: *v = q->used; break;
    default: return bad("cuMemPoolGetAttribute", "attribute");
  }
  return CUDA_SUCCESS;
}
CUresult cuMemAllocFromPoolAsync(CUdeviceptr* out, size_t n, CUmemoryPool p, CUstream s) {
  ENTER("cuMemAllocFromPoolAsync");
  Pool* q = pool(p);
  if (!q || n == 0) return bad("cuMemAllocFromPoolAsync", "pool or size");
  if (!checkStream(s, "cuMemAllocFromPoolAsync")) return CUDA_ERROR_INVALID_VALUE;
  if (q->device != current) return bad("cuMemAllocFromPoolAsync", "a pool of another device");
  char* m;
  auto c = q->cached.find(n);
  if (c != q->cached.end()) {
    m = c->second;
    q->cached.erase(c);
  } else {
    m = static_cast<char*>(std::malloc(n));
    q->reserved += n;
  }
  q->used += n;
  blocks[reinterpret_cast<uint64_t>(m)] = PoolBlock{n, q->device, true};
  *out = reinterpret_cast<CUdeviceptr>(m);
  return CUDA_SUCCESS;
}
CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) {
  ENTER("cuMemFreeAsync");
  if (!checkStream(s, "cuMemFreeAsync")) return CUDA_ERROR_INVALID_VALUE;
  auto b = blocks.find(p);
  if (b == blocks.end() || !b->second.pool) return bad("cuMemFreeAsync", "not a live pool allocation");
  Pool& q = pools[b->second.device];
  q.used -= b->second.size;
  q.cached.emplace(b->second.size, reinterpret_cast<char*>(p));
  blocks.erase(b);
  return CUDA_SUCCESS;
}

}  // extern "C"
