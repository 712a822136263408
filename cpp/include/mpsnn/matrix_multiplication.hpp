// MatrixMultiplication (MPSMatrixMultiplication):
//
//   result = alpha * op(left) * op(right) + beta * result
//
// op(left) is result_rows x interior_columns, op(right) interior_columns x
// result_columns, where op transposes when the flag says so. Each operand is
// read from its origin (x = row, y = column, z must be 0) and the batch runs
// matrices batch_start .. batch_start + batch_size of every operand (batch_size
// 0: as many as all three hold). float32 only. `result` must not overlap
// `left` or `right`.
#pragma once

#include <cstddef>

#include "mpsnn/command.hpp"
#include "mpsnn/device.hpp"
#include "mpsnn/export.hpp"
#include "mpsnn/matrix.hpp"
#include "mpsnn/types.hpp"

namespace mpsnn {

class MPSNN_API MatrixMultiplication {
 public:
  MatrixMultiplication(const Device& device, bool transpose_left, bool transpose_right,
                       std::size_t result_rows, std::size_t result_columns,
                       std::size_t interior_columns, double alpha = 1.0, double beta = 0.0);
  MatrixMultiplication(const Device& device, std::size_t result_rows, std::size_t result_columns,
                       std::size_t interior_columns);

  // Checks every argument, then records the product into command_buffer.
  void encode(CommandBuffer& command_buffer, const Matrix& left, const Matrix& right,
              Matrix& result) const;

  const Device& device() const { return device_; }
  bool transpose_left = false;
  bool transpose_right = false;
  std::size_t result_rows;
  std::size_t result_columns;
  std::size_t interior_columns;
  double alpha = 1.0;
  double beta = 0.0;
  Origin left_matrix_origin;
  Origin right_matrix_origin;
  Origin result_matrix_origin;
  std::size_t batch_start = 0;
  std::size_t batch_size = 0;

 private:
  Device device_;
};

}  // namespace mpsnn
