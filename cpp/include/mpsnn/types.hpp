// Small value types shared by the whole API.
#pragma once

#include <cstddef>
#include <string>

#include "mpsnn/export.hpp"

namespace mpsnn {

// Element type of a matrix or image (MPSDataType). Kernels state which they take.
enum class DataType { float32, float16 };

MPSNN_API std::size_t size_of(DataType type);
MPSNN_API const char* to_string(DataType type);

// A position inside a matrix (MTLOrigin as MPS matrix kernels use it):
// x is the row, y the column, z the matrix within a batch.
struct Origin {
  std::size_t x = 0;
  std::size_t y = 0;
  std::size_t z = 0;
};

}  // namespace mpsnn
