// Prints the kernel contract (contract.cuh) as a table the Java side checks its declarations
// against: every struct's size and alignment, every field's type, offset and array length,
// every constant and enum value. Host code only; the build runs it on a machine with no GPU.
//
// Format, one item per line ('#' lines are comments):
//   struct <Name> <size> <align>
//   field <Struct> <name> <kind> <offset> <count>     kind: i32 u32 i64 u64 f32 ptr; count 0 = scalar
//   constant <name> <value>
//   enum <Enum> <name> <value>
#include <cstdio>
#include <type_traits>
#include "contract.cuh"

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
  return 0;
}
