// Optimizers (MPSNNOptimizerDescriptor, MPSNNOptimizerStochasticGradientDescent,
// MPSNNOptimizerRMSProp, MPSNNOptimizerAdam), with Apple's update formulas.
//
// Every update first prepares the gradient g of each element from the incoming
// gradient and the weight w, as MPSNNOptimizerDescriptor documents ("the maximum
// value at which incoming gradient will be clipped before rescaling"; the
// regularization "gradient ... we add ... to the incoming gradient of value"):
//
//   g = clip(g, gradient_clip_min, gradient_clip_max)   only with apply_gradient_clipping
//   g = gradient_rescale * g
//   g = g + regularization_scale * sign(w)              L1 (sign(0) = 0)
//   g = g + regularization_scale * w                    L2
//
// then applies the optimizer's rule, lr being the learning rate:
//
//   StochasticGradientDescent  no momentum state:  w = w - lr * g
//     use_nesterov_momentum == false:  m = momentum_scale * m + lr * g
//                                      w = w - m
//     use_nesterov_momentum == true:   m = momentum_scale * m + g
//                                      w = w - lr * (g + momentum_scale * m)
//   RMSProp                            s = decay * s + (1 - decay) * g^2
//                                      w = w - lr * g / (sqrt(s) + epsilon)
//   Adam  (each encode:                t = t + 1
//          time_step is t)             lr[t] = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
//                                      m = beta1 * m + (1 - beta1) * g
//                                      v = beta2 * v + (1 - beta2) * g^2
//     without maximum velocity:        w = w - lr[t] * m / (sqrt(v) + epsilon)
//     with it (AMSGrad):               u = max(u, v)
//                                      w = w - lr[t] * m / (sqrt(u) + epsilon)
//
// Note Adam's epsilon is added to sqrt(v), not to the bias-corrected sqrt(v/(1 -
// beta2^t)) as torch.optim.Adam does, and non-Nesterov SGD folds lr into m.
//
// Tensors: weights, gradient and every state matrix of one update have the same
// rows x columns x matrices, float32, on the optimizer's device; any row_bytes /
// matrix_bytes (each operand its own). A vector is a 1-row matrix. The weights
// are updated in place; the gradient is only read. No written matrix (weights,
// state) may overlap any other operand of the same encode, the gradient
// included; gradients may overlap each other. Work is captured at encode time:
// hyperparameters (learning rate, Adam's t) by value, matrices by handle.
//
// Every argument is checked before anything is encoded: a bad one throws
// std::invalid_argument naming it and changes nothing (not even Adam's t).
// Like an MPSKernel, an optimizer must not be encoded from two threads at once.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "mpsnn/command.hpp"
#include "mpsnn/device.hpp"
#include "mpsnn/export.hpp"
#include "mpsnn/matrix.hpp"

namespace mpsnn {

namespace detail {
struct OptimizerArgs;
}

// MPSNNRegularizationType.
enum class RegularizationType { none, l1, l2 };
MPSNN_API const char* to_string(RegularizationType type);

struct MPSNN_API OptimizerDescriptor {
  float learning_rate = 0.001f;
  float gradient_rescale = 1.0f;
  bool apply_gradient_clipping = false;
  float gradient_clip_max = std::numeric_limits<float>::infinity();
  float gradient_clip_min = -std::numeric_limits<float>::infinity();
  RegularizationType regularization_type = RegularizationType::none;
  float regularization_scale = 0.0f;  // ignored with RegularizationType::none

  OptimizerDescriptor() = default;
  OptimizerDescriptor(float learning_rate, float gradient_rescale,
                      RegularizationType regularization_type, float regularization_scale);
  OptimizerDescriptor(float learning_rate, float gradient_rescale, bool apply_gradient_clipping,
                      float gradient_clip_max, float gradient_clip_min,
                      RegularizationType regularization_type, float regularization_scale);

  // Throws std::invalid_argument, the message starting with [what], unless
  // learning_rate >= 0, gradient_rescale is finite, gradient_clip_min <=
  // gradient_clip_max (neither NaN) and regularization_scale >= 0 (all finite).
  void validate(const char* what) const;
};

enum class OptimizerKind { stochastic_gradient_descent, rms_prop, adam };
MPSNN_API const char* to_string(OptimizerKind kind);

// The per-element state an optimizer keeps for one weight matrix: a handle
// (copies share the matrices). Its matrices, in this order:
//   stochastic_gradient_descent: [momentum]                          (optional)
//   rms_prop:                    sum_of_squares
//   adam:                        momentum, velocity, [maximum_velocity]  (AMSGrad when present)
// Save and restore it through matrix(name).read() / .write().
class MPSNN_API OptimizerState {
 public:
  // Wraps existing matrices (e.g. ones restored from a checkpoint), in the
  // order above. Throws std::invalid_argument unless their count fits `kind`
  // and they share one device, one shape, float32, and do not overlap.
  OptimizerState(OptimizerKind kind, std::vector<Matrix> matrices);

  // Every name `kind` knows, optional ones included.
  static std::vector<std::string> all_names(OptimizerKind kind);

  OptimizerKind kind() const { return kind_; }
  const std::vector<Matrix>& matrices() const { return matrices_; }
  // The names of matrices(), in order.
  std::vector<std::string> names() const;
  bool has(const std::string& name) const;
  // Throws std::invalid_argument when this state has no matrix of that name.
  const Matrix& matrix(const std::string& name) const;

 private:
  OptimizerKind kind_;
  std::vector<Matrix> matrices_;
};

// MPSNNOptimizer: the base of the three optimizers below.
class MPSNN_API Optimizer {
 public:
  virtual ~Optimizer() = default;

  const Device& device() const { return device_; }
  OptimizerKind kind() const { return kind_; }
  const OptimizerDescriptor& descriptor() const { return descriptor_; }
  float learning_rate() const { return descriptor_.learning_rate; }
  // Takes effect for updates encoded afterwards. Throws std::invalid_argument
  // for a negative or non-finite rate.
  void set_learning_rate(float learning_rate);
  bool apply_gradient_clipping() const { return descriptor_.apply_gradient_clipping; }
  void set_apply_gradient_clipping(bool apply) { descriptor_.apply_gradient_clipping = apply; }

  // Zero-filled state for `weights` (packed, on this optimizer's device).
  OptimizerState make_state(const Matrix& weights) const;

  // One update of `weights` in place from `gradient`, reading and writing `state`
  // (made by an optimizer of this kind for matrices of the weights' shape).
  void encode(CommandBuffer& command_buffer, const Matrix& gradient, Matrix& weights,
              const OptimizerState& state);
  // One update of every weight matrix (the i-th with gradients[i], states[i]),
  // as one step: Adam's t advances once for the whole list.
  void encode(CommandBuffer& command_buffer, const std::vector<Matrix>& gradients,
              const std::vector<Matrix>& weights, const std::vector<OptimizerState>& states);

 protected:
  Optimizer(const Device& device, OptimizerKind kind, const OptimizerDescriptor& descriptor);
  // Number of state matrices make_state creates.
  virtual std::size_t default_state_count() const = 0;
  // Fills the kind's hyperparameters into `args` (Adam: for step t + 1).
  virtual void fill(detail::OptimizerArgs& args) const = 0;
  // Called once an update was encoded.
  virtual void encoded() {}
  OptimizerState allocate_state(const Matrix& weights, std::size_t count) const;

 private:
  void encode_updates(CommandBuffer& command_buffer, const std::vector<Matrix>& gradients,
                      const std::vector<Matrix>& weights, const std::vector<OptimizerState>& states,
                      bool listed);
  Device device_;
  OptimizerKind kind_;
  OptimizerDescriptor descriptor_;
};

class MPSNN_API OptimizerStochasticGradientDescent final : public Optimizer {
 public:
  // make_state creates a momentum matrix when momentum_scale != 0.
  OptimizerStochasticGradientDescent(const Device& device, float learning_rate);
  // momentum_scale >= 0.
  OptimizerStochasticGradientDescent(const Device& device, float momentum_scale,
                                     bool use_nesterov_momentum,
                                     const OptimizerDescriptor& descriptor);
  float momentum_scale() const { return momentum_scale_; }
  bool use_nesterov_momentum() const { return use_nesterov_momentum_; }

 protected:
  std::size_t default_state_count() const override { return momentum_scale_ != 0.f ? 1 : 0; }
  void fill(detail::OptimizerArgs& args) const override;

 private:
  float momentum_scale_ = 0.f;
  bool use_nesterov_momentum_ = false;
};

class MPSNN_API OptimizerRMSProp final : public Optimizer {
 public:
  OptimizerRMSProp(const Device& device, float learning_rate);
  // decay in [0, 1), epsilon >= 0.
  OptimizerRMSProp(const Device& device, double decay, float epsilon,
                   const OptimizerDescriptor& descriptor);
  double decay() const { return decay_; }
  float epsilon() const { return epsilon_; }

 protected:
  std::size_t default_state_count() const override { return 1; }
  void fill(detail::OptimizerArgs& args) const override;

 private:
  double decay_ = 0.9;
  float epsilon_ = 1e-8f;
};

class MPSNN_API OptimizerAdam final : public Optimizer {
 public:
  OptimizerAdam(const Device& device, float learning_rate);
  // beta1 and beta2 in [0, 1), epsilon >= 0; time_step: updates already done.
  OptimizerAdam(const Device& device, double beta1, double beta2, float epsilon,
                std::size_t time_step, const OptimizerDescriptor& descriptor);
  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  float epsilon() const { return epsilon_; }
  // Updates done so far: each encode (of one matrix or of a list) adds 1 and
  // uses the new value, as MPSNNOptimizerAdam's timeStep.
  std::size_t time_step() const { return time_step_; }
  void set_time_step(std::size_t time_step) { time_step_ = time_step; }

  using Optimizer::make_state;  // momentum and velocity
  // With maximum_velocity, the state makes updates AMSGrad.
  OptimizerState make_state(const Matrix& weights, bool maximum_velocity) const;

 protected:
  std::size_t default_state_count() const override { return 2; }
  void fill(detail::OptimizerArgs& args) const override;
  void encoded() override { ++time_step_; }

 private:
  double beta1_ = 0.9;
  double beta2_ = 0.999;
  float epsilon_ = 1e-8f;
  std::size_t time_step_ = 0;
};

}  // namespace mpsnn
