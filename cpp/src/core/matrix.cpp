#include <limits>
#include <string>
#include <utility>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "mpsnn/matrix.hpp"

namespace mpsnn {

namespace {

constexpr std::size_t kMaxBytes = std::size_t(1) << 48;

std::size_t checked_product(const char* what, std::size_t a, std::size_t b) {
  if (a != 0 && b > kMaxBytes / a)
    detail::fail_argument(what, "size is too large (", a, " x ", b, " exceeds 2^48 bytes)");
  return a * b;
}

// Fills packed strides where the descriptor says 0, then validates.
MatrixDescriptor resolved(MatrixDescriptor descriptor, const char* what) {
  if (descriptor.row_bytes == 0)
    descriptor.row_bytes = checked_product(what, descriptor.columns, size_of(descriptor.data_type));
  if (descriptor.matrix_bytes == 0)
    descriptor.matrix_bytes = checked_product(what, descriptor.rows, descriptor.row_bytes);
  descriptor.validate(what);
  return descriptor;
}

}  // namespace

MatrixDescriptor::MatrixDescriptor(std::size_t rows_, std::size_t columns_, DataType data_type_,
                                   std::size_t matrices_, std::size_t row_bytes_,
                                   std::size_t matrix_bytes_)
    : rows(rows_), columns(columns_), matrices(matrices_), row_bytes(row_bytes_),
      matrix_bytes(matrix_bytes_), data_type(data_type_) {}

std::size_t MatrixDescriptor::row_bytes_from_columns(std::size_t columns, DataType data_type) {
  return columns * size_of(data_type);
}

std::size_t MatrixDescriptor::total_bytes() const {
  const std::size_t rb = row_bytes ? row_bytes : columns * size_of(data_type);
  const std::size_t mb = matrix_bytes ? matrix_bytes : rows * rb;
  return (matrices - 1) * mb + (rows - 1) * rb + columns * size_of(data_type);
}

void MatrixDescriptor::validate(const char* what) const {
  using detail::fail_argument;
  const std::size_t element = size_of(data_type);
  if (rows == 0 || columns == 0 || matrices == 0)
    fail_argument(what, "rows, columns and matrices must be positive; got rows=", rows,
                  ", columns=", columns, ", matrices=", matrices);
  const std::size_t packed_row = checked_product(what, columns, element);
  if (row_bytes < packed_row || row_bytes % element != 0)
    fail_argument(what, "row_bytes=", row_bytes, " must be a multiple of ", element,
                  " and at least columns * ", element, " = ", packed_row);
  const std::size_t packed_matrix = checked_product(what, rows, row_bytes);
  if (matrix_bytes < packed_matrix || matrix_bytes % element != 0)
    fail_argument(what, "matrix_bytes=", matrix_bytes, " must be a multiple of ", element,
                  " and at least rows * row_bytes = ", packed_matrix);
  checked_product(what, matrices, matrix_bytes);
}

Matrix::Matrix(const Device& device, const MatrixDescriptor& descriptor,
               std::shared_ptr<detail::Storage> storage)
    : device_(device), descriptor_(descriptor), storage_(std::move(storage)) {}

Matrix::Matrix(const Device& device, const MatrixDescriptor& descriptor)
    : device_(device), descriptor_(resolved(descriptor, "matrix")) {
  storage_ = device.backend().allocate(device.index(), descriptor_.total_bytes());
}

Matrix::Matrix(const Device& device, std::size_t rows, std::size_t columns, DataType data_type)
    : Matrix(device, MatrixDescriptor(rows, columns, data_type)) {}

Matrix Matrix::wrap_host_memory(const Device& device, const MatrixDescriptor& descriptor,
                                void* data, std::shared_ptr<void> keep_alive) {
  if (!data) detail::fail_argument("matrix", "data is null");
  const MatrixDescriptor d = resolved(descriptor, "matrix");
  auto storage =
      device.backend().wrap_host_memory(device.index(), data, d.total_bytes(), std::move(keep_alive));
  return Matrix(device, d, std::move(storage));
}

void* Matrix::host_data() const { return storage_->host_pointer(); }

namespace {

// Visits each row of every matrix as (storage offset, packed host offset).
template <typename Visit>
void for_each_row(const MatrixDescriptor& d, Visit visit) {
  const std::size_t packed_row = d.columns * size_of(d.data_type);
  if (d.row_bytes == packed_row && d.matrix_bytes == d.rows * packed_row) {
    visit(std::size_t(0), std::size_t(0), d.matrices * d.rows * packed_row);
    return;
  }
  std::size_t host = 0;
  for (std::size_t m = 0; m < d.matrices; ++m)
    for (std::size_t r = 0; r < d.rows; ++r, host += packed_row)
      visit(m * d.matrix_bytes + r * d.row_bytes, host, packed_row);
}

}  // namespace

void Matrix::read(void* host) const {
  if (!host) detail::fail_argument("matrix", "host is null");
  auto* bytes = static_cast<char*>(host);
  for_each_row(descriptor_, [&](std::size_t offset, std::size_t at, std::size_t n) {
    device_.backend().copy_to_host(*storage_, offset, bytes + at, n);
  });
}

void Matrix::write(const void* host) {
  if (!host) detail::fail_argument("matrix", "host is null");
  const auto* bytes = static_cast<const char*>(host);
  for_each_row(descriptor_, [&](std::size_t offset, std::size_t at, std::size_t n) {
    device_.backend().copy_from_host(*storage_, offset, bytes + at, n);
  });
}

}  // namespace mpsnn
