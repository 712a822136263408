#include <algorithm>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "mpsnn/matrix_multiplication.hpp"

namespace mpsnn {

namespace {

constexpr const char* kKernel = "matrix_multiplication";

void check_dimensions(std::size_t rows, std::size_t columns, std::size_t interior) {
  if (rows == 0 || columns == 0 || interior == 0)
    detail::fail_argument(kKernel, "result_rows, result_columns and interior_columns must be "
                          "positive; got ", rows, ", ", columns, ", ", interior);
}

// Checks that `rows` x `columns` elements from `origin` fit `matrix` and
// returns the operand with the origin applied.
detail::MatrixOperand operand(const char* what, const Matrix& matrix, const Origin& origin,
                              std::size_t rows, std::size_t columns, std::size_t batch_start,
                              std::size_t batch) {
  if (origin.z != 0) detail::fail_argument(kKernel, what, " origin z must be 0; got ", origin.z);
  detail::check_data_type(kKernel, what, matrix.data_type(), DataType::float32);
  if (origin.x + rows > matrix.rows() || origin.y + columns > matrix.columns())
    detail::fail_argument(kKernel, what, " is ", matrix.rows(), "x", matrix.columns(),
                          " but the product reads ", rows, "x", columns, " from origin (",
                          origin.x, ", ", origin.y, ")");
  if (batch_start + batch > matrix.matrices())
    detail::fail_argument(kKernel, what, " holds ", matrix.matrices(), " matrices but the batch "
                          "uses ", batch_start, "..", batch_start + batch - 1);
  const std::size_t element = size_of(matrix.data_type());
  return {matrix.storage(),
          batch_start * matrix.matrix_bytes() + origin.x * matrix.row_bytes() + origin.y * element,
          matrix.row_bytes(), matrix.matrix_bytes()};
}

// Byte range [begin, end) the batch touches, in the backend's address space.
std::pair<const char*, const char*> extent(const detail::MatrixOperand& op, std::size_t rows,
                                           std::size_t columns, std::size_t batch) {
  const char* begin = static_cast<const char*>(op.storage->address()) + op.offset_bytes;
  return {begin, begin + (batch - 1) * op.matrix_bytes + (rows - 1) * op.row_bytes + columns * 4};
}

bool overlaps(std::pair<const char*, const char*> a, std::pair<const char*, const char*> b) {
  return a.first < b.second && b.first < a.second;
}

}  // namespace

MatrixMultiplication::MatrixMultiplication(const Device& device, bool transpose_left_,
                                           bool transpose_right_, std::size_t result_rows_,
                                           std::size_t result_columns_,
                                           std::size_t interior_columns_, double alpha_,
                                           double beta_)
    : transpose_left(transpose_left_), transpose_right(transpose_right_),
      result_rows(result_rows_), result_columns(result_columns_),
      interior_columns(interior_columns_), alpha(alpha_), beta(beta_), device_(device) {
  check_dimensions(result_rows, result_columns, interior_columns);
}

MatrixMultiplication::MatrixMultiplication(const Device& device, std::size_t result_rows_,
                                           std::size_t result_columns_,
                                           std::size_t interior_columns_)
    : MatrixMultiplication(device, false, false, result_rows_, result_columns_, interior_columns_) {}

void MatrixMultiplication::encode(CommandBuffer& command_buffer, const Matrix& left,
                                  const Matrix& right, Matrix& result) const {
  check_dimensions(result_rows, result_columns, interior_columns);
  detail::check_command_buffer(kKernel, command_buffer, device_);
  detail::check_same_device(kKernel, "left", left.device(), device_);
  detail::check_same_device(kKernel, "right", right.device(), device_);
  detail::check_same_device(kKernel, "result", result.device(), device_);

  const std::size_t available =
      std::min({left.matrices(), right.matrices(), result.matrices()});
  if (batch_start >= available)
    detail::fail_argument(kKernel, "batch_start ", batch_start, " is past the ", available,
                          " matrices every operand holds");
  const std::size_t batch = batch_size ? batch_size : available - batch_start;

  detail::MatrixMultiplicationArgs args;
  args.transpose_left = transpose_left;
  args.transpose_right = transpose_right;
  args.rows = result_rows;
  args.columns = result_columns;
  args.interior = interior_columns;
  args.batch = batch;
  args.alpha = static_cast<float>(alpha);
  args.beta = static_cast<float>(beta);
  const std::size_t left_rows = transpose_left ? interior_columns : result_rows;
  const std::size_t left_columns = transpose_left ? result_rows : interior_columns;
  const std::size_t right_rows = transpose_right ? result_columns : interior_columns;
  const std::size_t right_columns = transpose_right ? interior_columns : result_columns;
  args.left = operand("left", left, left_matrix_origin, left_rows, left_columns, batch_start, batch);
  args.right =
      operand("right", right, right_matrix_origin, right_rows, right_columns, batch_start, batch);
  args.result = operand("result", result, result_matrix_origin, result_rows, result_columns,
                        batch_start, batch);

  const auto out = extent(args.result, result_rows, result_columns, batch);
  if (overlaps(out, extent(args.left, left_rows, left_columns, batch)))
    detail::fail_argument(kKernel, "result overlaps left in memory; use separate matrices");
  if (overlaps(out, extent(args.right, right_rows, right_columns, batch)))
    detail::fail_argument(kKernel, "result overlaps right in memory; use separate matrices");

  device_.backend().encode_matrix_multiplication(command_buffer.state(), args);
}

}  // namespace mpsnn
