// mpsnn.bnns: converts the Python descriptors (python/mpsnn/bnns.py) into
// mpsnn::bnns structs over the arrays' memory, then calls the C++ front.
#include <string>

#include "bindings.hpp"
#include "mpsnn/bnns.hpp"

namespace mpsnn::python {

namespace {

using namespace mpsnn::bnns;

NDArrayDescriptor array(const py::handle& value, const std::string& name, bool written) {
  if (value.is_none()) return {};
  if (!py::isinstance<py::array>(value))
    throw py::value_error(name + " must be a numpy.ndarray or None; got " +
                          py::str(py::type::of(value).attr("__name__")).cast<std::string>());
  auto a = py::reinterpret_borrow<py::array>(value);
  if (!a.dtype().equal(py::dtype::of<float>()))
    throw py::value_error(name + " has dtype " + py::str(a.dtype()).cast<std::string>() + "; expected float32");
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(name + " is not C-contiguous; pass numpy.ascontiguousarray(...)");
  if (written && !a.writeable()) throw py::value_error(name + " is read-only but the call writes it");
  if (a.size() == 0) throw py::value_error(name + " is empty");
  NDArrayDescriptor d;
  d.data = static_cast<float*>(const_cast<void*>(a.data()));
  d.shape.assign(a.shape(), a.shape() + a.ndim());
  return d;
}

Activation activation(const py::handle& value) {
  return {value.attr("function").cast<ActivationFunction>(), value.attr("alpha").cast<float>(),
          value.attr("beta").cast<float>()};
}

LSTMDataDescriptor data(const py::handle& value, const std::string& name, bool written) {
  LSTMDataDescriptor d;
  if (value.is_none()) return d;
  d.data_desc = array(value.attr("data_desc"), name + ".data_desc", written);
  d.hidden_desc = array(value.attr("hidden_desc"), name + ".hidden_desc", written);
  d.cell_state_desc = array(value.attr("cell_state_desc"), name + ".cell_state_desc", written);
  return d;
}

LSTMGateDescriptor gate(const py::handle& value, const std::string& name, bool written) {
  LSTMGateDescriptor g;
  py::sequence iw = value.attr("iw_desc");
  if (py::len(iw) != 2) throw py::value_error(name + ".iw_desc must be a pair (first layer, later layers)");
  g.iw_desc[0] = array(iw[0], name + ".iw_desc[0]", written);
  g.iw_desc[1] = array(iw[1], name + ".iw_desc[1]", written);
  g.hw_desc = array(value.attr("hw_desc"), name + ".hw_desc", written);
  g.cw_desc = array(value.attr("cw_desc"), name + ".cw_desc", written);
  g.b_desc = array(value.attr("b_desc"), name + ".b_desc", written);
  g.activation = activation(value.attr("activation"));
  return g;
}

std::size_t count(const py::handle& value, const char* name) {
  return to_size(value.attr(name).cast<std::int64_t>(), name, 0);
}

// `delta`: the gradients' mirror, where the input side and the gates are written.
LayerParametersLSTM parameters(const py::handle& p, const std::string& name, bool delta) {
  LayerParametersLSTM l;
  l.input_size = count(p, "input_size");
  l.hidden_size = count(p, "hidden_size");
  l.batch_size = count(p, "batch_size");
  l.num_layers = count(p, "num_layers");
  l.seq_len = count(p, "seq_len");
  l.dropout = p.attr("dropout").cast<float>();
  l.lstm_flags = p.attr("lstm_flags").cast<std::uint32_t>();
  l.input_descriptor = data(p.attr("input_descriptor"), name + ".input_descriptor", delta);
  l.output_descriptor = data(p.attr("output_descriptor"), name + ".output_descriptor", !delta);
  l.input_gate = gate(p.attr("input_gate"), name + ".input_gate", delta);
  l.forget_gate = gate(p.attr("forget_gate"), name + ".forget_gate", delta);
  l.candidate_gate = gate(p.attr("candidate_gate"), name + ".candidate_gate", delta);
  l.output_gate = gate(p.attr("output_gate"), name + ".output_gate", delta);
  l.hidden_activation = activation(p.attr("hidden_activation"));
  l.data_layout = p.attr("data_layout").cast<DataLayout>();
  l.dropout_seed = p.attr("dropout_seed").cast<std::uint64_t>();
  return l;
}

FilterParameters filter(const py::handle& value) {
  FilterParameters f;
  if (!value.is_none()) f.use_reference_kernel = value.attr("use_reference_kernel").cast<bool>();
  return f;
}

// (pointer, capacity) of a training cache array, or (nullptr, 0).
std::pair<void*, std::size_t> cache(const py::handle& value, bool written) {
  if (value.is_none()) return {nullptr, 0};
  if (!py::isinstance<py::array>(value))
    throw py::value_error("training_cache must be a numpy.ndarray (numpy.empty(capacity, numpy.uint8)) or None");
  auto a = py::reinterpret_borrow<py::array>(value);
  if (!(a.flags() & py::array::c_style)) throw py::value_error("training_cache is not C-contiguous");
  if (written && !a.writeable()) throw py::value_error("training_cache is read-only but the forward writes it");
  return {const_cast<void*>(a.data()), std::size_t(a.nbytes())};
}

}  // namespace

void bind_bnns(py::module_& m) {
  py::module_ b = m.def_submodule("_bnns", "BNNS-style LSTM (see mpsnn.bnns)");
  py::enum_<ActivationFunction>(b, "ActivationFunction")
      .value("identity", ActivationFunction::identity)
      .value("rectified_linear", ActivationFunction::rectified_linear)
      .value("leaky_rectified_linear", ActivationFunction::leaky_rectified_linear)
      .value("sigmoid", ActivationFunction::sigmoid)
      .value("tanh", ActivationFunction::tanh)
      .value("scaled_tanh", ActivationFunction::scaled_tanh)
      .value("linear", ActivationFunction::linear)
      .value("linear_with_bias", ActivationFunction::linear_with_bias)
      .value("hard_sigmoid", ActivationFunction::hard_sigmoid)
      .value("softplus", ActivationFunction::softplus)
      .value("softsign", ActivationFunction::softsign)
      .value("elu", ActivationFunction::elu)
      .value("relu6", ActivationFunction::relu6)
      .value("abs", ActivationFunction::abs);
  py::enum_<DataLayout>(b, "DataLayout").value("sne", DataLayout::sne).value("nse", DataLayout::nse);
  py::enum_<LayerFlags>(b, "LayerFlags", py::arithmetic())
      .value("lstm_bidirectional", lstm_bidirectional)
      .value("lstm_default_activations", lstm_default_activations);

  b.def("compute_lstm_training_cache_capacity", [](py::object p) {
    return compute_lstm_training_cache_capacity(parameters(p, "layer_params", false));
  });
  b.def("direct_apply_lstm_batch_training_caching", [](py::object p, py::object f, py::object c) {
    const LayerParametersLSTM params = parameters(p, "layer_params", false);
    const FilterParameters fp = filter(f);
    const auto [pointer, capacity] = cache(c, true);
    py::gil_scoped_release release;
    direct_apply_lstm_batch_training_caching(params, &fp, pointer, capacity);
  });
  b.def("direct_apply_lstm_batch_backward", [](py::object p, py::object delta, py::object f, py::object c) {
    const LayerParametersLSTM params = parameters(p, "layer_params", false);
    const LayerParametersLSTM deltas = parameters(delta, "layer_delta_params", true);
    const FilterParameters fp = filter(f);
    const auto [pointer, capacity] = cache(c, false);
    py::gil_scoped_release release;
    direct_apply_lstm_batch_backward(params, deltas, &fp, pointer, capacity);
  });
}

}  // namespace mpsnn::python
