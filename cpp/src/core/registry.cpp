#include <stdexcept>

#include "core/backend.hpp"

namespace mpsnn::detail {

namespace {

class UnbuiltBackend final : public Backend {
 public:
  UnbuiltBackend(const char* name, std::string reason) : name_(name), reason_(std::move(reason)) {}
  const char* name() const override { return name_; }
  bool built() const override { return false; }
  std::string unavailable_reason() const override { return reason_; }
  int device_count() const override { return 0; }
  std::string device_description(int) const override { fail(); }
  std::shared_ptr<Storage> allocate(int, std::size_t) override { fail(); }
  std::shared_ptr<Storage> wrap_host_memory(int, void*, std::size_t, std::shared_ptr<void>) override {
    fail();
  }
  void copy_to_host(const Storage&, std::size_t, void*, std::size_t) override { fail(); }
  void copy_from_host(Storage&, std::size_t, const void*, std::size_t) override { fail(); }
  std::shared_ptr<QueueImpl> make_queue(int) override { fail(); }
  void encode_host_function(CommandBufferState&, std::function<void()>) override { fail(); }
  void encode_matrix_multiplication(CommandBufferState&, const MatrixMultiplicationArgs&) override {
    fail();
  }
  void encode_lstm_forward(CommandBufferState&, const LstmForwardArgs&) override { fail(); }
  void encode_lstm_backward(CommandBufferState&, const LstmBackwardArgs&) override { fail(); }
  void encode_optimizer(CommandBufferState&, const OptimizerArgs&) override { fail(); }

 private:
  [[noreturn]] void fail() const {
    throw std::runtime_error(std::string(name_) + " backend not available: " + reason_);
  }
  const char* name_;
  std::string reason_;
};

}  // namespace

std::unique_ptr<Backend> make_unbuilt_backend(const char* name, std::string reason) {
  return std::make_unique<UnbuiltBackend>(name, std::move(reason));
}

const std::vector<Backend*>& all_backends() {
  static const std::vector<std::unique_ptr<Backend>> owned = [] {
    std::vector<std::unique_ptr<Backend>> list;
    list.push_back(make_cuda_backend());
    list.push_back(make_metal_backend());
    list.push_back(make_cpu_backend());
    return list;
  }();
  static const std::vector<Backend*> view = [] {
    std::vector<Backend*> list;
    for (auto& backend : owned) list.push_back(backend.get());
    return list;
  }();
  return view;
}

Backend* find_backend(const std::string& name) {
  for (Backend* backend : all_backends())
    if (name == backend->name()) return backend;
  return nullptr;
}

}  // namespace mpsnn::detail
