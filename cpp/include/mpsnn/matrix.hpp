// Matrices (MPSMatrix, MPSMatrixDescriptor).
//
// A Matrix is a handle to memory owned by its device's backend: copies of the
// handle share the memory. A descriptor may describe a batch of `matrices`
// matrices, each `rows` x `columns`, rows `row_bytes` apart and matrices
// `matrix_bytes` apart (both at least the packed size, both multiples of the
// element size).
//
// Memory on a host-visible device (the CPU) is reachable through host_data();
// on other devices only through the explicit, blocking read()/write(), which
// do not wait for command buffers: wait for the work that writes a matrix
// before reading it, as in Metal.
#pragma once

#include <cstddef>
#include <memory>

#include "mpsnn/device.hpp"
#include "mpsnn/export.hpp"
#include "mpsnn/types.hpp"

namespace mpsnn {

namespace detail {
class Storage;
}

struct MPSNN_API MatrixDescriptor {
  std::size_t rows = 0;
  std::size_t columns = 0;
  std::size_t matrices = 1;
  std::size_t row_bytes = 0;     // 0: packed, columns * size_of(data_type)
  std::size_t matrix_bytes = 0;  // 0: packed, rows * row_bytes
  DataType data_type = DataType::float32;

  MatrixDescriptor() = default;
  MatrixDescriptor(std::size_t rows, std::size_t columns, DataType data_type = DataType::float32,
                   std::size_t matrices = 1, std::size_t row_bytes = 0, std::size_t matrix_bytes = 0);

  // Packed row size (MPSMatrixDescriptor.rowBytes(fromColumns:dataType:)).
  static std::size_t row_bytes_from_columns(std::size_t columns, DataType data_type);
  // Bytes the memory of a matrix with this descriptor must span.
  std::size_t total_bytes() const;
  // Throws std::invalid_argument naming `what` unless every size is positive
  // and the strides fit the rows and columns.
  void validate(const char* what) const;
};

class MPSNN_API Matrix {
 public:
  // New zero-filled memory on `device`.
  Matrix(const Device& device, const MatrixDescriptor& descriptor);
  Matrix(const Device& device, std::size_t rows, std::size_t columns,
         DataType data_type = DataType::float32);

  // Wraps caller memory without copying (host-visible devices only). `data`
  // must span descriptor.total_bytes(); `keep_alive` is held as long as any
  // handle or command uses the memory. Throws std::invalid_argument on a
  // device that cannot address host memory.
  static Matrix wrap_host_memory(const Device& device, const MatrixDescriptor& descriptor,
                                 void* data, std::shared_ptr<void> keep_alive);

  const Device& device() const { return device_; }
  const MatrixDescriptor& descriptor() const { return descriptor_; }
  std::size_t rows() const { return descriptor_.rows; }
  std::size_t columns() const { return descriptor_.columns; }
  std::size_t matrices() const { return descriptor_.matrices; }
  std::size_t row_bytes() const { return descriptor_.row_bytes; }
  std::size_t matrix_bytes() const { return descriptor_.matrix_bytes; }
  DataType data_type() const { return descriptor_.data_type; }

  // First element, or nullptr when the device's memory is not host-visible.
  void* host_data() const;
  // Blocking copies of all matrices as packed [matrices, rows, columns]
  // elements; `host` must hold matrices * rows * columns elements.
  void read(void* host) const;
  void write(const void* host);

  // For the library's own kernels.
  const std::shared_ptr<detail::Storage>& storage() const { return storage_; }

 private:
  Matrix(const Device& device, const MatrixDescriptor& descriptor,
         std::shared_ptr<detail::Storage> storage);
  Device device_;
  MatrixDescriptor descriptor_;
  std::shared_ptr<detail::Storage> storage_;
};

}  // namespace mpsnn
