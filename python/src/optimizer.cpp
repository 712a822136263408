// Optimizers: OptimizerDescriptor, OptimizerState, the three optimizers, and
// saving / restoring states as dicts of NumPy arrays.
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "bindings.hpp"
#include "mpsnn/optimizer.hpp"

namespace mpsnn::python {

namespace {

// The shortest decimal that reads back as the same float ("0.1", not 0.100000001).
std::string float_text(float value) {
  char text[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtof(text, nullptr) == value || value != value) break;
  }
  return text;
}

std::string shape_text(const std::vector<py::ssize_t>& shape) {
  return py::str(py::tuple(py::cast(shape))).cast<std::string>();
}

// {"kind": ..., name: array, ...}: copies of every matrix of the state.
py::dict state_dict(const OptimizerState& state) {
  py::dict out;
  out["kind"] = to_string(state.kind());
  for (const auto& name : state.names()) out[py::str(name)] = to_numpy(state.matrix(name));
  return out;
}

// Checks everything first, so that a bad dict leaves the state as it was.
void load_state_dict(OptimizerState& state, const py::object& object) {
  if (!py::isinstance<py::dict>(object))
    throw py::value_error("state_dict must be a dict (from state_dict()); got " +
                          py::str(py::type::of(object).attr("__name__")).cast<std::string>());
  const py::dict dict = py::reinterpret_borrow<py::dict>(object);
  const std::string kind = to_string(state.kind());
  if (!dict.contains("kind") || py::str(dict["kind"]).cast<std::string>() != kind)
    throw py::value_error("state_dict is for kind " +
                          (dict.contains("kind") ? py::repr(dict["kind"]).cast<std::string>()
                                                 : std::string("(none)")) +
                          " but this state belongs to " + kind);
  const auto names = state.names();
  for (const auto& item : dict) {
    const std::string key = py::str(item.first).cast<std::string>();
    if (key != "kind" && std::find(names.begin(), names.end(), key) == names.end())
      throw py::value_error("state_dict has '" + key + "', which this " + kind + " state lacks");
  }
  std::vector<py::array_t<float, py::array::c_style>> arrays;
  for (const auto& name : names) {
    if (!dict.contains(name)) throw py::value_error("state_dict lacks '" + name + "'");
    const std::string what = "state_dict['" + name + "']";
    py::array array = as_array(dict[py::str(name)], what.c_str());
    if (array.dtype().kind() != 'f')
      throw py::value_error(what + " has dtype " + py::str(array.dtype()).cast<std::string>() +
                            "; expected a floating-point array");
    const Matrix& matrix = state.matrix(name);
    const auto expected = numpy_shape(matrix);
    const std::vector<py::ssize_t> actual(array.shape(), array.shape() + array.ndim());
    if (actual != expected)
      throw py::value_error(what + " has shape " + shape_text(actual) + "; this state's " + name +
                            " is " + shape_text(expected));
    arrays.push_back(py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array));
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    Matrix matrix = state.matrix(names[i]);
    matrix.write(arrays[i].data());
  }
}

// A zero state for `weights` holding the matrices `dict` names, then loaded.
OptimizerState load_state(const Optimizer& optimizer, const Matrix& weights,
                          const py::object& object) {
  OptimizerState state = optimizer.make_state(weights);
  if (py::isinstance<py::dict>(object)) {
    const py::dict dict = py::reinterpret_borrow<py::dict>(object);
    std::vector<Matrix> matrices;
    for (const auto& name : OptimizerState::all_names(optimizer.kind())) {
      if (!dict.contains(name)) break;
      matrices.emplace_back(optimizer.device(),
                            MatrixDescriptor(weights.rows(), weights.columns(), DataType::float32,
                                             weights.matrices()));
    }
    // A count that fits the kind; load_state_dict names any key left over.
    if (matrices.size() >= state.matrices().size())
      state = OptimizerState(optimizer.kind(), std::move(matrices));
  }
  load_state_dict(state, object);
  return state;
}

// Apple's two initializers in one: a descriptor, or just a learning rate.
OptimizerDescriptor descriptor_from(const std::optional<OptimizerDescriptor>& descriptor,
                                    const std::optional<float>& learning_rate) {
  OptimizerDescriptor d = descriptor.value_or(OptimizerDescriptor());
  if (learning_rate) d.learning_rate = *learning_rate;
  return d;
}

std::string descriptor_repr(const OptimizerDescriptor& d) {
  return "learning_rate=" + float_text(d.learning_rate) +
         ", gradient_rescale=" + float_text(d.gradient_rescale) +
         ", apply_gradient_clipping=" + (d.apply_gradient_clipping ? "True" : "False") +
         ", gradient_clip_max=" + float_text(d.gradient_clip_max) +
         ", gradient_clip_min=" + float_text(d.gradient_clip_min) +
         ", regularization_type=RegularizationType." + to_string(d.regularization_type) +
         ", regularization_scale=" + float_text(d.regularization_scale);
}

}  // namespace

void bind_optimizer(py::module_& m) {
  py::enum_<RegularizationType>(m, "RegularizationType", "MPSNNRegularizationType.")
      .value("none", RegularizationType::none)
      .value("l1", RegularizationType::l1)
      .value("l2", RegularizationType::l2);
  py::enum_<OptimizerKind>(m, "OptimizerKind")
      .value("stochastic_gradient_descent", OptimizerKind::stochastic_gradient_descent)
      .value("rms_prop", OptimizerKind::rms_prop)
      .value("adam", OptimizerKind::adam);

  py::class_<OptimizerDescriptor>(
      m, "OptimizerDescriptor",
      "Learning rate and gradient preprocessing shared by every optimizer (MPSNNOptimizerDescriptor): "
      "g = clip(g) (when apply_gradient_clipping), then g = gradient_rescale * g, then the L1 or "
      "L2 regularization gradient regularization_scale * sign(w) or * w is added.")
      .def(py::init([](float learning_rate, float gradient_rescale, bool apply_gradient_clipping,
                       float gradient_clip_max, float gradient_clip_min,
                       RegularizationType regularization_type, float regularization_scale) {
             OptimizerDescriptor d(learning_rate, gradient_rescale, apply_gradient_clipping,
                                   gradient_clip_max, gradient_clip_min, regularization_type,
                                   regularization_scale);
             d.validate("optimizer_descriptor");
             return d;
           }),
           py::arg("learning_rate") = OptimizerDescriptor().learning_rate,
           py::arg("gradient_rescale") = 1.0f, py::arg("apply_gradient_clipping") = false,
           py::arg("gradient_clip_max") = OptimizerDescriptor().gradient_clip_max,
           py::arg("gradient_clip_min") = OptimizerDescriptor().gradient_clip_min,
           py::arg("regularization_type") = RegularizationType::none,
           py::arg("regularization_scale") = 0.0f)
      .def_readwrite("learning_rate", &OptimizerDescriptor::learning_rate)
      .def_readwrite("gradient_rescale", &OptimizerDescriptor::gradient_rescale)
      .def_readwrite("apply_gradient_clipping", &OptimizerDescriptor::apply_gradient_clipping)
      .def_readwrite("gradient_clip_max", &OptimizerDescriptor::gradient_clip_max)
      .def_readwrite("gradient_clip_min", &OptimizerDescriptor::gradient_clip_min)
      .def_readwrite("regularization_type", &OptimizerDescriptor::regularization_type)
      .def_readwrite("regularization_scale", &OptimizerDescriptor::regularization_scale)
      .def("__repr__", [](const OptimizerDescriptor& d) {
        return "OptimizerDescriptor(" + descriptor_repr(d) + ")";
      });

  py::class_<OptimizerState>(
      m, "OptimizerState",
      "The matrices an optimizer keeps per weight matrix: sgd [momentum]; rms_prop "
      "sum_of_squares; adam momentum, velocity[, maximum_velocity]. Make one with "
      "optimizer.make_state(weights), or wrap matrices: OptimizerState(kind, momentum=..., ...).")
      .def(py::init([](OptimizerKind kind, const py::kwargs& kwargs) {
             std::vector<Matrix> matrices;
             std::size_t used = 0;
             for (const auto& name : OptimizerState::all_names(kind)) {
               if (!kwargs.contains(name.c_str())) break;
               const py::handle value = kwargs[name.c_str()];
               if (!py::isinstance<Matrix>(value))
                 throw py::type_error(name + " must be an mpsnn.Matrix; got " +
                                      py::str(py::type::of(value).attr("__name__")).cast<std::string>());
               matrices.push_back(value.cast<Matrix>());
               ++used;
             }
             if (used != kwargs.size())
               throw py::value_error(std::string("a state of kind ") + to_string(kind) + " takes, in order, " +
                                     py::str(py::cast(OptimizerState::all_names(kind))).cast<std::string>() +
                                     "; got " + py::str(kwargs.attr("keys")()).cast<std::string>());
             return OptimizerState(kind, std::move(matrices));
           }),
           py::arg("kind"))
      .def_property_readonly("kind", &OptimizerState::kind)
      .def_property_readonly("names", &OptimizerState::names)
      .def_property_readonly("matrices", &OptimizerState::matrices)
      .def("__getitem__", &OptimizerState::matrix, py::arg("name"))
      .def("__contains__", &OptimizerState::has, py::arg("name"))
      .def("state_dict", &state_dict,
           "{'kind': ..., name: numpy array, ...}: a copy of every matrix, for saving.")
      .def("load_state_dict", &load_state_dict, py::arg("state_dict"),
           "Copies a state_dict() of the same kind and shapes into this state; checks all of it first.")
      .def("__repr__", [](const OptimizerState& s) {
        return std::string("OptimizerState(") + to_string(s.kind()) + ", " +
               py::str(py::cast(s.names())).cast<std::string>() + ")";
      });

  py::class_<Optimizer>(m, "Optimizer", "The base of the optimizers (MPSNNOptimizer).")
      .def_property_readonly("device", &Optimizer::device)
      .def_property_readonly("kind", &Optimizer::kind)
      .def_property_readonly("descriptor", [](const Optimizer& o) { return o.descriptor(); },
                             "A copy of the descriptor in use.")
      .def_property("learning_rate", &Optimizer::learning_rate, &Optimizer::set_learning_rate)
      .def_property("apply_gradient_clipping", &Optimizer::apply_gradient_clipping,
                    &Optimizer::set_apply_gradient_clipping)
      .def_property_readonly("gradient_rescale", [](const Optimizer& o) { return o.descriptor().gradient_rescale; })
      .def_property_readonly("gradient_clip_max", [](const Optimizer& o) { return o.descriptor().gradient_clip_max; })
      .def_property_readonly("gradient_clip_min", [](const Optimizer& o) { return o.descriptor().gradient_clip_min; })
      .def_property_readonly("regularization_type", [](const Optimizer& o) { return o.descriptor().regularization_type; })
      .def_property_readonly("regularization_scale", [](const Optimizer& o) { return o.descriptor().regularization_scale; })
      .def("make_state", py::overload_cast<const Matrix&>(&Optimizer::make_state, py::const_),
           py::arg("weights"), "A zero state for weights, on this optimizer's device.")
      .def("load_state", &load_state, py::arg("weights"), py::arg("state_dict"),
           "A new state for weights holding a saved state_dict() (checked against kind and shape).")
      .def("encode",
           py::overload_cast<CommandBuffer&, const Matrix&, Matrix&, const OptimizerState&>(&Optimizer::encode),
           py::arg("command_buffer"), py::arg("gradient"), py::arg("weights"), py::arg("state"),
           "Updates weights in place from gradient, reading and writing state.")
      .def("encode",
           py::overload_cast<CommandBuffer&, const std::vector<Matrix>&, const std::vector<Matrix>&,
                             const std::vector<OptimizerState>&>(&Optimizer::encode),
           py::arg("command_buffer"), py::arg("gradients"), py::arg("weights"), py::arg("states"),
           "Updates every weight matrix in one step (Adam's time_step advances once).");

  py::class_<OptimizerStochasticGradientDescent, Optimizer>(
      m, "OptimizerStochasticGradientDescent",
      "SGD (MPSNNOptimizerStochasticGradientDescent): without momentum w -= lr * g; else "
      "m = momentum_scale * m + lr * g, w -= m; Nesterov: m = momentum_scale * m + g, "
      "w -= lr * (g + momentum_scale * m).")
      .def(py::init([](const Device& device, std::optional<float> learning_rate, float momentum_scale,
                       bool use_nesterov_momentum, std::optional<OptimizerDescriptor> descriptor) {
             return OptimizerStochasticGradientDescent(device, momentum_scale, use_nesterov_momentum,
                                                       descriptor_from(descriptor, learning_rate));
           }),
           py::arg("device"), py::arg("learning_rate") = py::none(), py::kw_only(),
           py::arg("momentum_scale") = 0.0f, py::arg("use_nesterov_momentum") = false,
           py::arg("optimizer_descriptor") = py::none())
      .def_property_readonly("momentum_scale", &OptimizerStochasticGradientDescent::momentum_scale)
      .def_property_readonly("use_nesterov_momentum",
                             &OptimizerStochasticGradientDescent::use_nesterov_momentum)
      .def("__repr__", [](const OptimizerStochasticGradientDescent& o) {
        return "OptimizerStochasticGradientDescent(momentum_scale=" +
               float_text(o.momentum_scale()) +
               ", use_nesterov_momentum=" + (o.use_nesterov_momentum() ? "True" : "False") + ", " +
               descriptor_repr(o.descriptor()) + ")";
      });

  py::class_<OptimizerRMSProp, Optimizer>(
      m, "OptimizerRMSProp",
      "RMSProp (MPSNNOptimizerRMSProp): s = decay * s + (1 - decay) * g^2, "
      "w -= lr * g / (sqrt(s) + epsilon).")
      .def(py::init([](const Device& device, std::optional<float> learning_rate, double decay,
                       float epsilon, std::optional<OptimizerDescriptor> descriptor) {
             return OptimizerRMSProp(device, decay, epsilon, descriptor_from(descriptor, learning_rate));
           }),
           py::arg("device"), py::arg("learning_rate") = py::none(), py::kw_only(),
           py::arg("decay") = 0.9, py::arg("epsilon") = 1e-8f, py::arg("optimizer_descriptor") = py::none())
      .def_property_readonly("decay", &OptimizerRMSProp::decay)
      .def_property_readonly("epsilon", &OptimizerRMSProp::epsilon)
      .def("__repr__", [](const OptimizerRMSProp& o) {
        return "OptimizerRMSProp(decay=" + py::repr(py::float_(o.decay())).cast<std::string>() +
               ", epsilon=" + float_text(o.epsilon()) + ", " +
               descriptor_repr(o.descriptor()) + ")";
      });

  py::class_<OptimizerAdam, Optimizer>(
      m, "OptimizerAdam",
      "Adam (MPSNNOptimizerAdam): t += 1 per encode; lr[t] = lr * sqrt(1 - beta2^t) / "
      "(1 - beta1^t); m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g^2; "
      "w -= lr[t] * m / (sqrt(v) + epsilon), with max(maximum_velocity, v) for v when the state "
      "has a maximum velocity (AMSGrad).")
      .def(py::init([](const Device& device, std::optional<float> learning_rate, double beta1,
                       double beta2, float epsilon, std::int64_t time_step,
                       std::optional<OptimizerDescriptor> descriptor) {
             return OptimizerAdam(device, beta1, beta2, epsilon, to_size(time_step, "time_step", 0),
                                  descriptor_from(descriptor, learning_rate));
           }),
           py::arg("device"), py::arg("learning_rate") = py::none(), py::kw_only(),
           py::arg("beta1") = 0.9, py::arg("beta2") = 0.999, py::arg("epsilon") = 1e-8f,
           py::arg("time_step") = 0, py::arg("optimizer_descriptor") = py::none())
      .def_property_readonly("beta1", &OptimizerAdam::beta1)
      .def_property_readonly("beta2", &OptimizerAdam::beta2)
      .def_property_readonly("epsilon", &OptimizerAdam::epsilon)
      .def_property(
          "time_step", &OptimizerAdam::time_step,
          [](OptimizerAdam& o, std::int64_t t) { o.set_time_step(to_size(t, "time_step", 0)); },
          "Updates done so far; each encode adds 1 before updating.")
      .def("make_state", py::overload_cast<const Matrix&, bool>(&OptimizerAdam::make_state, py::const_),
           py::arg("weights"), py::arg("maximum_velocity") = false,
           "A zero state for weights; with maximum_velocity, updates are AMSGrad.")
      .def("__repr__", [](const OptimizerAdam& o) {
        return "OptimizerAdam(beta1=" + py::repr(py::float_(o.beta1())).cast<std::string>() +
               ", beta2=" + py::repr(py::float_(o.beta2())).cast<std::string>() +
               ", epsilon=" + float_text(o.epsilon()) +
               ", time_step=" + std::to_string(o.time_step()) + ", " +
               descriptor_repr(o.descriptor()) + ")";
      });
}

}  // namespace mpsnn::python
