#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "mpsnn/optimizer.hpp"

namespace mpsnn {

namespace {

struct KindInfo {
  const char* kernel;
  const char* names[3];
  std::size_t required, total;
};

const KindInfo& info(OptimizerKind kind) {
  static const KindInfo table[] = {
      {"sgd", {"momentum"}, 0, 1},
      {"rms_prop", {"sum_of_squares"}, 1, 1},
      {"adam", {"momentum", "velocity", "maximum_velocity"}, 2, 3},
  };
  return table[static_cast<int>(kind)];
}

void require_at_least(const char* kernel, const char* name, double value, double minimum) {
  if (!(std::isfinite(value) && value >= minimum))
    detail::fail_argument(kernel, name, " must be finite and >= ", minimum, "; got ", value);
}

void require_unit_interval(const char* kernel, const char* name, double value) {
  if (!(value >= 0.0 && value < 1.0))
    detail::fail_argument(kernel, name, " must be in [0, 1); got ", value);
}

std::string shape(const Matrix& m) {
  return (m.matrices() > 1 ? std::to_string(m.matrices()) + "x" : std::string()) +
         std::to_string(m.rows()) + "x" + std::to_string(m.columns());
}

bool same_shape(const Matrix& a, const Matrix& b) {
  return a.rows() == b.rows() && a.columns() == b.columns() && a.matrices() == b.matrices();
}

// Names an operand in messages: role 0 weights, 1 gradient, 2.. the state's
// matrices, -1 the state itself; with "[i]" in the list form.
std::string operand_name(int role, std::size_t tensor, bool listed, OptimizerKind kind) {
  std::string name = role == 0 ? "weights" : role == 1 ? (listed ? "gradients" : "gradient")
                                                       : (listed ? "states" : "state");
  if (listed) name += "[" + std::to_string(tensor) + "]";
  if (role >= 2) name += std::string(" ") + info(kind).names[role - 2];
  return name;
}

void check_operand(const char* kernel, const std::string& what, const Matrix& m,
                   const Device& device) {
  detail::check_same_device(kernel, what.c_str(), m.device(), device);
  detail::check_data_type(kernel, what.c_str(), m.data_type(), DataType::float32);
}

// What one operand of a tensor is, for the aliasing check's message.
struct Operand {
  std::size_t tensor;
  int role;  // 0 weights, 1 gradient, 2.. state matrices
};

detail::Extent extent(const detail::MatrixOperand& op, const detail::OptimizerTensor& t, bool written,
                      std::size_t tensor, int role, std::vector<Operand>& operands) {
  const char* begin = static_cast<const char*>(op.storage->address()) + op.offset_bytes;
  operands.push_back({tensor, role});
  return {begin,
          begin + (t.matrices - 1) * op.matrix_bytes + (t.rows - 1) * op.row_bytes +
              t.columns * sizeof(float),
          written, operands.size() - 1};
}

void check_overlaps(const char* kernel, const std::vector<detail::Extent>& extents,
                    const std::vector<Operand>& operands, OptimizerKind kind, bool listed) {
  std::pair<std::size_t, std::size_t> ids;
  if (!detail::find_written_overlap(extents, ids)) return;
  const auto describe = [&](std::size_t id) {
    return operand_name(operands[id].role, operands[id].tensor, listed, kind);
  };
  detail::fail_argument(kernel, describe(ids.first), " overlaps ", describe(ids.second),
                        " in memory; the update writes one of them, so use separate matrices");
}

// Packed operands make one long row, which the kernels run fastest.
void collapse(detail::OptimizerTensor& t, std::size_t operands) {
  const auto all = [&](auto packed) {
    if (!packed(t.weights) || !packed(t.gradient)) return false;
    for (std::size_t i = 0; i < operands; ++i)
      if (!packed(t.states[i])) return false;
    return true;
  };
  if (all([&](const detail::MatrixOperand& op) { return op.row_bytes == t.columns * sizeof(float); })) {
    t.columns *= t.rows;
    t.rows = 1;
  }
  if (t.rows == 1 &&
      all([&](const detail::MatrixOperand& op) { return op.matrix_bytes == t.columns * sizeof(float); })) {
    t.columns *= t.matrices;
    t.matrices = 1;
  }
}

detail::MatrixOperand operand(const Matrix& m) {
  return {m.storage(), 0, m.row_bytes(), m.matrix_bytes()};
}

}  // namespace

const char* to_string(RegularizationType type) {
  switch (type) {
    case RegularizationType::l1: return "l1";
    case RegularizationType::l2: return "l2";
    default: return "none";
  }
}

const char* to_string(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::rms_prop: return "rms_prop";
    case OptimizerKind::adam: return "adam";
    default: return "stochastic_gradient_descent";
  }
}

OptimizerDescriptor::OptimizerDescriptor(float learning_rate_, float gradient_rescale_,
                                         RegularizationType regularization_type_,
                                         float regularization_scale_)
    : learning_rate(learning_rate_), gradient_rescale(gradient_rescale_),
      regularization_type(regularization_type_), regularization_scale(regularization_scale_) {}

OptimizerDescriptor::OptimizerDescriptor(float learning_rate_, float gradient_rescale_,
                                         bool apply_gradient_clipping_, float gradient_clip_max_,
                                         float gradient_clip_min_,
                                         RegularizationType regularization_type_,
                                         float regularization_scale_)
    : learning_rate(learning_rate_), gradient_rescale(gradient_rescale_),
      apply_gradient_clipping(apply_gradient_clipping_), gradient_clip_max(gradient_clip_max_),
      gradient_clip_min(gradient_clip_min_), regularization_type(regularization_type_),
      regularization_scale(regularization_scale_) {}

void OptimizerDescriptor::validate(const char* what) const {
  require_at_least(what, "learning_rate", learning_rate, 0.0);
  if (!std::isfinite(gradient_rescale))
    detail::fail_argument(what, "gradient_rescale must be finite; got ", gradient_rescale);
  if (std::isnan(gradient_clip_min) || std::isnan(gradient_clip_max) ||
      gradient_clip_min > gradient_clip_max)
    detail::fail_argument(what, "gradient_clip_min (", gradient_clip_min,
                          ") must not exceed gradient_clip_max (", gradient_clip_max, ")");
  const int type = static_cast<int>(regularization_type);
  if (type < 0 || type > 2)
    detail::fail_argument(what, "regularization_type ", type, " is not none, l1 or l2");
  require_at_least(what, "regularization_scale", regularization_scale, 0.0);
}

// ---- OptimizerState ----

OptimizerState::OptimizerState(OptimizerKind kind, std::vector<Matrix> matrices)
    : kind_(kind), matrices_(std::move(matrices)) {
  constexpr const char* kKernel = "optimizer_state";
  const int value = static_cast<int>(kind);
  if (value < 0 || value > 2) detail::fail_argument(kKernel, "kind ", value, " is not an optimizer");
  const KindInfo& k = info(kind);
  if (matrices_.size() < k.required || matrices_.size() > k.total)
    detail::fail_argument(kKernel, "a state of kind ", to_string(kind), " holds ", k.required, " to ",
                          k.total, " matrices (", k.names[0], k.total > 1 ? ", ..." : "", "); got ",
                          matrices_.size());
  std::vector<detail::Extent> extents;
  std::vector<Operand> operands;
  detail::OptimizerTensor whole;
  for (std::size_t i = 0; i < matrices_.size(); ++i) {
    const Matrix& m = matrices_[i];
    const std::string what = k.names[i];
    check_operand(kKernel, what, m, matrices_[0].device());
    if (!same_shape(m, matrices_[0]))
      detail::fail_argument(kKernel, what, " is ", shape(m), " but ", k.names[0], " is ",
                            shape(matrices_[0]));
    whole.matrices = m.matrices(), whole.rows = m.rows(), whole.columns = m.columns();
    extents.push_back(extent(operand(m), whole, true, 0, static_cast<int>(i) + 2, operands));
  }
  check_overlaps(kKernel, extents, operands, kind, false);
}

std::vector<std::string> OptimizerState::all_names(OptimizerKind kind) {
  const KindInfo& k = info(kind);
  return std::vector<std::string>(k.names, k.names + k.total);
}

std::vector<std::string> OptimizerState::names() const {
  const KindInfo& k = info(kind_);
  return std::vector<std::string>(k.names, k.names + matrices_.size());
}

bool OptimizerState::has(const std::string& name) const {
  const auto n = names();
  return std::find(n.begin(), n.end(), name) != n.end();
}

const Matrix& OptimizerState::matrix(const std::string& name) const {
  const auto n = names();
  const auto at = std::find(n.begin(), n.end(), name);
  if (at == n.end())
    detail::fail_argument("optimizer_state", "this ", to_string(kind_), " state has no matrix '",
                          name, "'");
  return matrices_[at - n.begin()];
}

// ---- Optimizer ----

Optimizer::Optimizer(const Device& device, OptimizerKind kind, const OptimizerDescriptor& descriptor)
    : device_(device), kind_(kind), descriptor_(descriptor) {
  descriptor_.validate(info(kind).kernel);
}

void Optimizer::set_learning_rate(float learning_rate) {
  require_at_least(info(kind_).kernel, "learning_rate", learning_rate, 0.0);
  descriptor_.learning_rate = learning_rate;
}

OptimizerState Optimizer::make_state(const Matrix& weights) const {
  return allocate_state(weights, default_state_count());
}

OptimizerState Optimizer::allocate_state(const Matrix& weights, std::size_t count) const {
  check_operand(info(kind_).kernel, "weights", weights, device_);
  const MatrixDescriptor packed(weights.rows(), weights.columns(), DataType::float32,
                                weights.matrices());
  std::vector<Matrix> matrices;
  for (std::size_t i = 0; i < count; ++i) matrices.emplace_back(device_, packed);
  return OptimizerState(kind_, std::move(matrices));
}

void Optimizer::encode(CommandBuffer& command_buffer, const Matrix& gradient, Matrix& weights,
                       const OptimizerState& state) {
  encode_updates(command_buffer, {gradient}, {weights}, {state}, false);
}

void Optimizer::encode(CommandBuffer& command_buffer, const std::vector<Matrix>& gradients,
                       const std::vector<Matrix>& weights,
                       const std::vector<OptimizerState>& states) {
  encode_updates(command_buffer, gradients, weights, states, true);
}

void Optimizer::encode_updates(CommandBuffer& command_buffer, const std::vector<Matrix>& gradients,
                               const std::vector<Matrix>& weights,
                               const std::vector<OptimizerState>& states, bool listed) {
  const char* kernel = info(kind_).kernel;
  detail::check_command_buffer(kernel, command_buffer, device_);
  if (gradients.size() != weights.size() || states.size() != weights.size())
    detail::fail_argument(kernel, "gradients, weights and states must have one entry per weight "
                          "matrix; got ", gradients.size(), ", ", weights.size(), " and ",
                          states.size());
  if (weights.empty()) detail::fail_argument(kernel, "weights is empty: nothing to update");

  detail::OptimizerArgs args;
  args.kind = kind_;
  args.learning_rate = descriptor_.learning_rate;
  args.gradient_rescale = descriptor_.gradient_rescale;
  args.clip = descriptor_.apply_gradient_clipping;
  args.clip_min = descriptor_.gradient_clip_min;
  args.clip_max = descriptor_.gradient_clip_max;
  args.regularization = descriptor_.regularization_type;
  args.regularization_scale = descriptor_.regularization_scale;
  fill(args);

  std::vector<detail::Extent> extents;
  std::vector<Operand> operands;
  args.tensors.reserve(weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const Matrix& w = weights[i];
    const Matrix& g = gradients[i];
    const OptimizerState& s = states[i];
    const std::string w_name = operand_name(0, i, listed, kind_);
    const std::string g_name = operand_name(1, i, listed, kind_);
    check_operand(kernel, w_name, w, device_);
    check_operand(kernel, g_name, g, device_);
    if (!same_shape(g, w))
      detail::fail_argument(kernel, g_name, " is ", shape(g), " but ", w_name, " is ", shape(w));
    if (s.kind() != kind_)
      detail::fail_argument(kernel, operand_name(-1, i, listed, kind_), " was made for ",
                            to_string(s.kind()), "; this optimizer needs a state of kind ",
                            to_string(kind_), " (from its make_state)");
    detail::OptimizerTensor t;
    t.matrices = w.matrices(), t.rows = w.rows(), t.columns = w.columns();
    t.weights = operand(w);
    t.gradient = operand(g);
    for (std::size_t j = 0; j < s.matrices().size(); ++j) {
      const Matrix& m = s.matrices()[j];
      const std::string m_name = operand_name(static_cast<int>(j) + 2, i, listed, kind_);
      detail::check_same_device(kernel, m_name.c_str(), m.device(), device_);
      if (!same_shape(m, w))
        detail::fail_argument(kernel, m_name, " is ", shape(m), " but ", w_name, " is ", shape(w));
      t.states[j] = operand(m);
    }
    extents.push_back(extent(t.weights, t, true, i, 0, operands));
    extents.push_back(extent(t.gradient, t, false, i, 1, operands));
    for (std::size_t j = 0; j < s.matrices().size(); ++j)
      extents.push_back(extent(t.states[j], t, true, i, static_cast<int>(j) + 2, operands));
    collapse(t, s.matrices().size());
    args.tensors.push_back(std::move(t));
  }
  check_overlaps(kernel, extents, operands, kind_, listed);

  device_.backend().encode_optimizer(command_buffer.state(), args);
  encoded();
}

// ---- the three optimizers ----

OptimizerStochasticGradientDescent::OptimizerStochasticGradientDescent(const Device& device,
                                                                       float learning_rate)
    : OptimizerStochasticGradientDescent(device, 0.f, false,
                                         OptimizerDescriptor(learning_rate, 1.f,
                                                             RegularizationType::none, 0.f)) {}

OptimizerStochasticGradientDescent::OptimizerStochasticGradientDescent(
    const Device& device, float momentum_scale, bool use_nesterov_momentum,
    const OptimizerDescriptor& descriptor)
    : Optimizer(device, OptimizerKind::stochastic_gradient_descent, descriptor),
      momentum_scale_(momentum_scale), use_nesterov_momentum_(use_nesterov_momentum) {
  require_at_least("sgd", "momentum_scale", momentum_scale, 0.0);
}

void OptimizerStochasticGradientDescent::fill(detail::OptimizerArgs& args) const {
  args.momentum_scale = momentum_scale_;
  args.nesterov = use_nesterov_momentum_;
}

OptimizerRMSProp::OptimizerRMSProp(const Device& device, float learning_rate)
    : OptimizerRMSProp(device, 0.9, 1e-8f,
                       OptimizerDescriptor(learning_rate, 1.f, RegularizationType::none, 0.f)) {}

OptimizerRMSProp::OptimizerRMSProp(const Device& device, double decay, float epsilon,
                                   const OptimizerDescriptor& descriptor)
    : Optimizer(device, OptimizerKind::rms_prop, descriptor), decay_(decay), epsilon_(epsilon) {
  require_unit_interval("rms_prop", "decay", decay);
  require_at_least("rms_prop", "epsilon", epsilon, 0.0);
}

void OptimizerRMSProp::fill(detail::OptimizerArgs& args) const {
  args.beta2 = static_cast<float>(decay_);
  args.one_minus_beta2 = static_cast<float>(1.0 - decay_);
  args.epsilon = epsilon_;
}

OptimizerAdam::OptimizerAdam(const Device& device, float learning_rate)
    : OptimizerAdam(device, 0.9, 0.999, 1e-8f, 0,
                    OptimizerDescriptor(learning_rate, 1.f, RegularizationType::none, 0.f)) {}

OptimizerAdam::OptimizerAdam(const Device& device, double beta1, double beta2, float epsilon,
                             std::size_t time_step, const OptimizerDescriptor& descriptor)
    : Optimizer(device, OptimizerKind::adam, descriptor), beta1_(beta1), beta2_(beta2),
      epsilon_(epsilon), time_step_(time_step) {
  require_unit_interval("adam", "beta1", beta1);
  require_unit_interval("adam", "beta2", beta2);
  require_at_least("adam", "epsilon", epsilon, 0.0);
}

OptimizerState OptimizerAdam::make_state(const Matrix& weights, bool maximum_velocity) const {
  return allocate_state(weights, maximum_velocity ? 3 : 2);
}

void OptimizerAdam::fill(detail::OptimizerArgs& args) const {
  const double t = static_cast<double>(time_step_) + 1.0;
  args.learning_rate = static_cast<float>(learning_rate() * std::sqrt(1.0 - std::pow(beta2_, t)) /
                                          (1.0 - std::pow(beta1_, t)));
  args.beta1 = static_cast<float>(beta1_);
  args.one_minus_beta1 = static_cast<float>(1.0 - beta1_);
  args.beta2 = static_cast<float>(beta2_);
  args.one_minus_beta2 = static_cast<float>(1.0 - beta2_);
  args.epsilon = epsilon_;
}

}  // namespace mpsnn
