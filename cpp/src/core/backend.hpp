// The seam between core and the backends (docs/backend-seam.md maps each call
// onto CUDA and Metal). Core checks every argument before calling in; backends
// trust what they get. Core never dereferences backend memory.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/lstm.hpp"
#include "mpsnn/optimizer.hpp"
#include "mpsnn/types.hpp"

namespace mpsnn::detail {

class CommandBufferState;

// Memory owned by a backend.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual std::size_t bytes() const = 0;
  // Address in the backend's address space (host or device); used by core only
  // to compare ranges for aliasing checks.
  virtual const void* address() const = 0;
  // Host-visible address, or nullptr.
  virtual void* host_pointer() const { return nullptr; }
};

// One unit of encoded work; a queue runs a buffer's commands in order. A
// command that throws fails its buffer and skips the rest of it.
using Command = std::function<void()>;

class QueueImpl {
 public:
  virtual ~QueueImpl() = default;
  // Takes a committed buffer; must not block on its work.
  virtual void submit(std::shared_ptr<CommandBufferState> buffer) = 0;
  // True on the thread that runs this queue's work and completed handlers.
  virtual bool on_queue_thread() const = 0;
};

// One operand of a strided batch of matrices, origin applied.
struct MatrixOperand {
  std::shared_ptr<Storage> storage;
  std::size_t offset_bytes = 0;  // first element used
  std::size_t row_bytes = 0;
  std::size_t matrix_bytes = 0;
};

struct MatrixMultiplicationArgs {
  bool transpose_left = false, transpose_right = false;
  std::size_t rows = 0, columns = 0, interior = 0, batch = 1;
  float alpha = 1.f, beta = 0.f;
  MatrixOperand left, right, result;
};

// A position in backend memory; empty when the tensor is absent.
struct TensorRef {
  std::shared_ptr<Storage> storage;
  std::size_t offset_bytes = 0;
  explicit operator bool() const { return storage != nullptr; }
};

// The parameters of one gate of one (layer, direction), docs/lstm-layout.md:
// w [H][I_l], u [H][H], b [H] (absent: zeros), v [H] diagonal or [H][H] full
// (absent: no peephole for this gate). As gradients, absent ones are not
// computed and present ones are overwritten.
struct LstmGate {
  TensorRef w, u, b, v;
};

// Shapes and layouts: docs/lstm-layout.md. `weights` holds config.gate_count()
// gates in config.gate_index order. Absent h0/c0 mean zeros; absent hn/cn are
// not written. Without a cache the forward is for inference (no dropout).
struct LstmForwardArgs {
  LstmConfig config;
  TensorRef x, h0, c0, y, hn, cn, cache;
  std::vector<LstmGate> weights;
  bool reference = false;  // the plain reference kernel, for validation
};

// Reads the cache the training forward wrote (never writes it). Absent
// dy/dhn/dcn mean zeros; absent dx/dh0/dc0 are not written.
struct LstmBackwardArgs {
  LstmConfig config;
  TensorRef x, h0, c0, cache, dy, dhn, dcn;
  TensorRef dx, dh0, dc0;
  std::vector<LstmGate> weights, gradients;
  bool reference = false;
};

// One weight matrix of an optimizer update: `matrices` x `rows` x `columns`
// elements in each operand (core collapses packed operands to one row).
struct OptimizerTensor {
  std::size_t matrices = 1, rows = 1, columns = 0;
  MatrixOperand weights, gradient;
  // The state's matrices in OptimizerState order; storage null when absent.
  MatrixOperand states[3];
};

// Scalars are float, computed by core in double where Apple's are double.
struct OptimizerArgs {
  OptimizerKind kind = OptimizerKind::stochastic_gradient_descent;
  float learning_rate = 0.f;  // Adam: lr[t], bias correction applied
  float gradient_rescale = 1.f;
  bool clip = false;
  float clip_min = 0.f, clip_max = 0.f;
  RegularizationType regularization = RegularizationType::none;
  float regularization_scale = 0.f;
  float momentum_scale = 0.f;  // SGD
  bool nesterov = false;       // SGD
  // Adam's betas; RMSProp keeps its decay in beta2 / one_minus_beta2.
  float beta1 = 0.f, one_minus_beta1 = 1.f, beta2 = 0.f, one_minus_beta2 = 1.f;
  float epsilon = 0.f;
  std::vector<OptimizerTensor> tensors;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  virtual bool built() const = 0;
  // Empty when usable; otherwise why not ("no GPU", "driver too old", ...).
  virtual std::string unavailable_reason() const = 0;
  virtual int device_count() const = 0;
  virtual std::string device_description(int device) const = 0;

  // Zero-filled memory.
  virtual std::shared_ptr<Storage> allocate(int device, std::size_t bytes) = 0;
  // Caller memory, without a copy; throws std::invalid_argument when the
  // device cannot address host memory.
  virtual std::shared_ptr<Storage> wrap_host_memory(int device, void* data, std::size_t bytes,
                                                    std::shared_ptr<void> keep_alive) = 0;
  // Blocking copies between backend memory and host memory.
  virtual void copy_to_host(const Storage& source, std::size_t offset, void* host,
                            std::size_t bytes) = 0;
  virtual void copy_from_host(Storage& destination, std::size_t offset, const void* host,
                              std::size_t bytes) = 0;

  virtual std::shared_ptr<QueueImpl> make_queue(int device) = 0;

  // Kernels: record work into the buffer; never block.
  virtual void encode_host_function(CommandBufferState& buffer, std::function<void()> function) = 0;
  virtual void encode_matrix_multiplication(CommandBufferState& buffer,
                                            const MatrixMultiplicationArgs& args) = 0;
  virtual void encode_lstm_forward(CommandBufferState& buffer, const LstmForwardArgs& args) = 0;
  virtual void encode_lstm_backward(CommandBufferState& buffer, const LstmBackwardArgs& args) = 0;
  // Updates every tensor of args in place, in one command.
  virtual void encode_optimizer(CommandBufferState& buffer, const OptimizerArgs& args) = 0;
};

// Defined by each backend folder (the real backend, or its stub).
std::unique_ptr<Backend> make_cpu_backend();
std::unique_ptr<Backend> make_cuda_backend();
std::unique_ptr<Backend> make_metal_backend();

// A backend this build does not contain: reports `reason`, does nothing.
std::unique_ptr<Backend> make_unbuilt_backend(const char* name, std::string reason);

// Registry: every backend, best first (cuda, metal, cpu).
const std::vector<Backend*>& all_backends();
// nullptr when no backend has that name.
Backend* find_backend(const std::string& name);

}  // namespace mpsnn::detail
