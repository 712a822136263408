#include "mpsnn/types.hpp"

namespace mpsnn {

std::size_t size_of(DataType type) { return type == DataType::float16 ? 2 : 4; }

const char* to_string(DataType type) {
  return type == DataType::float16 ? "float16" : "float32";
}

}  // namespace mpsnn
