// The CPU backend: host memory, one worker thread per command queue.
#pragma once

#include "core/backend.hpp"

namespace mpsnn::cpu {

class CpuStorage final : public detail::Storage {
 public:
  // Owns `bytes` of zero-filled, 64-byte aligned memory.
  explicit CpuStorage(std::size_t bytes);
  // Refers to caller memory kept alive by `keep_alive`.
  CpuStorage(void* data, std::size_t bytes, std::shared_ptr<void> keep_alive);
  ~CpuStorage() override;
  std::size_t bytes() const override { return bytes_; }
  const void* address() const override { return data_; }
  void* host_pointer() const override { return data_; }

 private:
  void* data_;
  std::size_t bytes_;
  bool owned_;
  std::shared_ptr<void> keep_alive_;
};

// The host address of `storage` plus `offset` bytes, typed.
template <typename T>
T* host(const std::shared_ptr<detail::Storage>& storage, std::size_t offset = 0) {
  return reinterpret_cast<T*>(static_cast<char*>(storage->host_pointer()) + offset);
}
// The host address of a tensor, or nullptr when it is absent.
template <typename T>
T* host(const detail::TensorRef& tensor) {
  return tensor ? host<T>(tensor.storage, tensor.offset_bytes) : nullptr;
}

class CpuBackend final : public detail::Backend {
 public:
  const char* name() const override { return "cpu"; }
  bool built() const override { return true; }
  std::string unavailable_reason() const override { return {}; }
  int device_count() const override { return 1; }
  std::string device_description(int device) const override;

  std::shared_ptr<detail::Storage> allocate(int device, std::size_t bytes) override;
  std::shared_ptr<detail::Storage> wrap_host_memory(int device, void* data, std::size_t bytes,
                                                    std::shared_ptr<void> keep_alive) override;
  void copy_to_host(const detail::Storage& source, std::size_t offset, void* host,
                    std::size_t bytes) override;
  void copy_from_host(detail::Storage& destination, std::size_t offset, const void* host,
                      std::size_t bytes) override;
  std::shared_ptr<detail::QueueImpl> make_queue(int device) override;

  void encode_host_function(detail::CommandBufferState& buffer,
                            std::function<void()> function) override;
  void encode_matrix_multiplication(detail::CommandBufferState& buffer,
                                    const detail::MatrixMultiplicationArgs& args) override;
  void encode_lstm_forward(detail::CommandBufferState& buffer,
                           const detail::LstmForwardArgs& args) override;
  void encode_lstm_backward(detail::CommandBufferState& buffer,
                            const detail::LstmBackwardArgs& args) override;
  void encode_optimizer(detail::CommandBufferState& buffer,
                        const detail::OptimizerArgs& args) override;
};

}  // namespace mpsnn::cpu
