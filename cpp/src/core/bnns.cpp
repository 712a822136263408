// The BNNS front: checks every descriptor once, then hands Apple's per-gate
// arrays to the CPU kernels as they are (docs/lstm-layout.md), through a
// command queue; gradients land in the caller's arrays directly.
#include "mpsnn/bnns.hpp"

#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/backend.hpp"
#include "core/check.hpp"
#include "core/lstm.hpp"
#include "mpsnn/command.hpp"

namespace mpsnn::bnns {

namespace {

using detail::fail_argument;
using detail::LstmConfig;
constexpr const char* kKernel = "bnns.lstm";
constexpr const char* kGateNames[4] = {"input_gate", "forget_gate", "candidate_gate", "output_gate"};

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::ostringstream out;
  out << "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << (shape.size() == 1 ? ",)" : ")");
  return out.str();
}

// Checks an array's shape; returns whether it is present.
bool check_array(const NDArrayDescriptor& array, const std::string& name,
                 const std::vector<std::size_t>& shape, bool required = false) {
  if (!array.data) {
    if (required) fail_argument(kKernel, name, " is required (shape ", shape_text(shape), ")");
    return false;
  }
  if (array.shape != shape)
    fail_argument(kKernel, name, " has shape ", shape_text(array.shape), "; expected ", shape_text(shape));
  return true;
}

const LSTMGateDescriptor& gate(const LayerParametersLSTM& p, int k) {
  const LSTMGateDescriptor* gates[4] = {&p.input_gate, &p.forget_gate, &p.candidate_gate, &p.output_gate};
  return *gates[k];
}

// Whether iw_desc[0] holds every layer's input weights ([L][D][H][I]).
bool first_covers_all_layers(const LSTMGateDescriptor& g) { return !g.iw_desc[1].data; }

LstmConfig make_config(const LayerParametersLSTM& p) {
  if (p.input_size == 0 || p.hidden_size == 0 || p.batch_size == 0 || p.num_layers == 0 || p.seq_len == 0)
    fail_argument(kKernel, "input_size, hidden_size, batch_size, num_layers and seq_len must be positive; got ",
                  p.input_size, ", ", p.hidden_size, ", ", p.batch_size, ", ", p.num_layers, ", ", p.seq_len);
  if (!(p.dropout >= 0.f && p.dropout < 1.f))
    fail_argument(kKernel, "dropout must be in [0, 1); got ", p.dropout);
  if (p.lstm_flags & ~std::uint32_t(lstm_bidirectional | lstm_default_activations))
    fail_argument(kKernel, "lstm_flags has unknown bits: ", p.lstm_flags);
  LstmConfig c;
  c.input_size = p.input_size;
  c.hidden_size = p.hidden_size;
  c.num_layers = p.num_layers;
  c.directions = p.lstm_flags & lstm_bidirectional ? 2 : 1;
  c.batch = p.batch_size;
  c.seq_len = p.seq_len;
  c.batch_first = p.data_layout == DataLayout::nse;
  c.dropout = p.dropout;
  c.seed = p.dropout_seed;
  const bool defaults = p.lstm_flags & lstm_default_activations;
  const NeuronDescriptor sigmoid{NeuronType::sigmoid}, tanh{NeuronType::tanh, 1.f, 1.f};
  for (int k = 0; k < 4; ++k)
    c.gate_neuron[k] = defaults ? (k == 2 ? tanh : sigmoid)
                                : to_neuron(gate(p, k).activation, (std::string(kGateNames[k]) + ".activation").c_str());
  c.cell_output_neuron = defaults ? tanh : to_neuron(p.hidden_activation, "hidden_activation");
  detail::validate_neurons(c, kKernel, kGateNames, "hidden_activation");

  int full = -1;  // -1: no peephole seen yet
  for (int k = 0; k < 4; ++k) {
    const NDArrayDescriptor& cw = gate(p, k).cw_desc;
    if (!cw.data) continue;
    c.peephole[k] = true;
    const int this_full = cw.shape.size() == 4 ? 1 : 0;
    if (full >= 0 && this_full != full)
      fail_argument(kKernel, "every cw_desc must be diagonal ([L][D][H]) or every one full ([L][D][H][H]); ",
                    kGateNames[k], ".cw_desc differs from an earlier gate");
    full = this_full;
  }
  c.peephole_diagonal = full != 1;
  return c;
}

// Checks the weight descriptors of `p` (weights, or their gradients in a delta).
void check_gate_arrays(const LayerParametersLSTM& p, const LstmConfig& c, const char* prefix, bool required) {
  const std::size_t L = c.num_layers, D = c.directions, H = c.hidden_size, I = c.input_size;
  for (int k = 0; k < 4; ++k) {
    const LSTMGateDescriptor& g = gate(p, k);
    const std::string name = std::string(prefix) + kGateNames[k];
    if (first_covers_all_layers(g)) {
      if (L > 1 && c.layer_input(1) != I && g.iw_desc[0].data)
        fail_argument(kKernel, name, ".iw_desc[1] is required: layers after the first read ", c.layer_input(1),
                      " features, not input_size ", I);
      check_array(g.iw_desc[0], name + ".iw_desc[0]", {L, D, H, I}, required);
    } else {
      if (L == 1) fail_argument(kKernel, name, ".iw_desc[1] is given but num_layers is 1");
      check_array(g.iw_desc[0], name + ".iw_desc[0]", {1, D, H, I}, required);
      check_array(g.iw_desc[1], name + ".iw_desc[1]", {L - 1, D, H, D * H}, required);
    }
    check_array(g.hw_desc, name + ".hw_desc", {L, D, H, H}, required);
    check_array(g.b_desc, name + ".b_desc", {L, D, H});
    if (c.peephole[k])
      check_array(g.cw_desc, name + ".cw_desc",
                  c.peephole_diagonal ? std::vector<std::size_t>{L, D, H} : std::vector<std::size_t>{L, D, H, H});
  }
}

void check_data(const LSTMDataDescriptor& data, const LstmConfig& c, const std::string& name, std::size_t width,
                bool data_required) {
  const std::vector<std::size_t> sequence = c.batch_first ? std::vector<std::size_t>{c.batch, c.seq_len, width}
                                                          : std::vector<std::size_t>{c.seq_len, c.batch, width};
  check_array(data.data_desc, name + ".data_desc", sequence, data_required);
  const std::vector<std::size_t> states{c.num_layers * c.directions, c.batch, c.hidden_size};
  check_array(data.hidden_desc, name + ".hidden_desc", states);
  check_array(data.cell_state_desc, name + ".cell_state_desc", states);
}

// Where gate k's rows of block (l, d) come from in Apple's per-gate arrays.
struct GateSource {
  const LstmConfig& c;
  std::size_t l, d;
  std::size_t index() const { return l * c.directions + d; }
  float* input_weights(const LSTMGateDescriptor& g) const {
    const std::size_t H = c.hidden_size, width = c.layer_input(l);
    if (first_covers_all_layers(g)) return g.iw_desc[0].data ? g.iw_desc[0].data + index() * H * width : nullptr;
    if (l == 0) return g.iw_desc[0].data ? g.iw_desc[0].data + d * H * width : nullptr;
    return g.iw_desc[1].data ? g.iw_desc[1].data + ((l - 1) * c.directions + d) * H * width : nullptr;
  }
  float* at(const NDArrayDescriptor& a, std::size_t per_block) const {
    return a.data ? a.data + index() * per_block : nullptr;
  }
};

CommandQueue& cpu_queue() {
  static CommandQueue queue{Device("cpu")};
  return queue;
}

detail::Backend& cpu_backend() {
  static const Device cpu("cpu");
  return cpu.backend();
}

detail::TensorRef wrap(const void* data, std::size_t bytes) {
  if (!data) return {};
  return {cpu_backend().wrap_host_memory(0, const_cast<void*>(data), bytes, nullptr), 0};
}

// A data descriptor's sequence, hidden and cell state (element counts given).
std::tuple<detail::TensorRef, detail::TensorRef, detail::TensorRef> wrap(const LSTMDataDescriptor& data,
                                                                         std::size_t sequence, std::size_t states) {
  return {wrap(data.data_desc.data, sequence * sizeof(float)), wrap(data.hidden_desc.data, states * sizeof(float)),
          wrap(data.cell_state_desc.data, states * sizeof(float))};
}

detail::TensorRef allocate(std::size_t bytes) { return {cpu_backend().allocate(0, bytes), 0}; }


template <typename Args>
void run(void (detail::Backend::*encode)(detail::CommandBufferState&, const Args&), const Args& args) {
  CommandBuffer buffer = cpu_queue().make_command_buffer();
  (cpu_backend().*encode)(buffer.state(), args);
  buffer.commit();
  buffer.wait_until_completed();
}

// Every array of one call, to refuse aliasing: the kernels write outputs and
// gradients while they still read inputs, so an overlap would be silently
// wrong, never a crash.
class ArgumentSpans {
 public:
  void add(const NDArrayDescriptor& a, std::string name, bool written) {
    if (!a.data) return;
    std::size_t count = 1;
    for (std::size_t n : a.shape) count *= n;
    add(a.data, count * sizeof(float), std::move(name), written);
  }
  void add(const void* data, std::size_t bytes, std::string name, bool written) {
    if (!data || !bytes) return;
    const char* begin = static_cast<const char*>(data);
    extents_.push_back({begin, begin + bytes, written, names_.size()});
    names_.push_back(std::move(name));
  }
  void add(const LSTMDataDescriptor& d, const std::string& name, bool written) {
    add(d.data_desc, name + ".data_desc", written);
    add(d.hidden_desc, name + ".hidden_desc", written);
    add(d.cell_state_desc, name + ".cell_state_desc", written);
  }
  void add_gates(const LayerParametersLSTM& p, const std::string& prefix, bool written) {
    for (int k = 0; k < 4; ++k) {
      const LSTMGateDescriptor& g = gate(p, k);
      const std::string name = prefix + kGateNames[k];
      add(g.iw_desc[0], name + ".iw_desc[0]", written);
      add(g.iw_desc[1], name + ".iw_desc[1]", written);
      add(g.hw_desc, name + ".hw_desc", written);
      add(g.cw_desc, name + ".cw_desc", written);
      add(g.b_desc, name + ".b_desc", written);
    }
  }
  void check() const {
    std::pair<std::size_t, std::size_t> ids;
    if (!detail::find_written_overlap(extents_, ids)) return;
    if (!extents_[ids.first].written) std::swap(ids.first, ids.second);  // ids index extents_ and names_ alike
    fail_argument(kKernel, names_[ids.first], " overlaps ", names_[ids.second],
                  " in memory; the call writes the first while it uses the second, so use separate arrays");
  }

 private:
  std::vector<detail::Extent> extents_;
  std::vector<std::string> names_;
};

struct Checked {
  LstmConfig config;
  std::size_t sequence_in, sequence_out, states;  // element counts
};

Checked check_forward(const LayerParametersLSTM& p) {
  Checked k{make_config(p), 0, 0, 0};
  const LstmConfig& c = k.config;
  check_gate_arrays(p, c, "", true);
  check_data(p.input_descriptor, c, "input_descriptor", c.input_size, true);
  check_data(p.output_descriptor, c, "output_descriptor", c.directions * c.hidden_size, true);
  k.sequence_in = c.seq_len * c.batch * c.input_size;
  k.sequence_out = c.seq_len * c.batch * c.directions * c.hidden_size;
  k.states = c.num_layers * c.directions * c.batch * c.hidden_size;
  return k;
}

// Apple's per-gate arrays (or their gradients) as the kernels' per-gate list;
// nothing is copied. Absent arrays stay absent.
std::vector<detail::LstmGate> gate_list(const LayerParametersLSTM& p, const LstmConfig& c) {
  const std::size_t H = c.hidden_size, v_size = c.peephole_diagonal ? H : H * H;
  std::vector<detail::LstmGate> gates(c.gate_count());
  for (std::size_t l = 0; l < c.num_layers; ++l)
    for (std::size_t d = 0; d < c.directions; ++d) {
      const GateSource source{c, l, d};
      for (int k = 0; k < 4; ++k) {
        const LSTMGateDescriptor& g = gate(p, k);
        detail::LstmGate& out = gates[c.gate_index(l, d, k)];
        out.w = wrap(source.input_weights(g), H * c.layer_input(l) * sizeof(float));
        out.u = wrap(source.at(g.hw_desc, H * H), H * H * sizeof(float));
        out.b = wrap(source.at(g.b_desc, H), H * sizeof(float));
        if (c.peephole[k]) out.v = wrap(source.at(g.cw_desc, v_size), v_size * sizeof(float));
      }
    }
  return gates;
}

detail::LstmForwardArgs forward_args(const LayerParametersLSTM& p, const Checked& k, const FilterParameters* f) {
  detail::LstmForwardArgs a;
  a.config = k.config;
  std::tie(a.x, a.h0, a.c0) = wrap(p.input_descriptor, k.sequence_in, k.states);
  std::tie(a.y, a.hn, a.cn) = wrap(p.output_descriptor, k.sequence_out, k.states);
  a.weights = gate_list(p, k.config);
  a.reference = f && f->use_reference_kernel;
  return a;
}

// The training cache opens with a header saying where its sections start:
// on the first 64-byte boundary past the header, wherever the caller's memory
// lies. NumPy's arrays lie 16 bytes past one, and there the gate rows of two
// threads' slices of units shared lines (a step 2.0-2.6% slower at 256/4/150
// on 2 cores, 5.6-6.8% at 256/4/150 and 256/16/150 on 16). The backward
// reads the offset back, so a cache copied elsewhere still reads right; the
// fingerprint of the shapes that lay the sections out turns a cache from
// another configuration, or none, into an error rather than gradients from
// garbage.
struct CacheHeader {
  std::uint32_t magic;
  std::uint32_t offset;  // bytes from the cache's start to its sections
  std::uint64_t fingerprint;
};
constexpr std::uint32_t kCacheMagic = 0x4D53504Du;  // "MPSM"
constexpr std::size_t kCacheSlack = sizeof(CacheHeader) + 63;

std::uint64_t cache_fingerprint(const LstmConfig& c) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a over the sizes
  for (std::size_t v : {c.seq_len, c.batch, c.input_size, c.hidden_size, c.num_layers, c.directions,
                        std::size_t(c.dropout > 0.f)})
    hash = (hash ^ v) * 1099511628211ull;
  return hash;
}

std::size_t cache_capacity(const LstmConfig& c) { return c.cache_bytes() + kCacheSlack; }

void check_capacity(std::size_t capacity, const LstmConfig& c) {
  if (capacity < cache_capacity(c))
    fail_argument(kKernel, "training_cache_capacity ", capacity,
                  " is smaller than compute_lstm_training_cache_capacity() = ", cache_capacity(c));
}

// The forward's sections, after the header it writes.
void* open_cache_for_forward(void* cache, const LstmConfig& c) {
  const std::uintptr_t after_header = reinterpret_cast<std::uintptr_t>(cache) + sizeof(CacheHeader);
  const CacheHeader header{kCacheMagic, std::uint32_t(sizeof(CacheHeader) + (0 - after_header) % 64),
                           cache_fingerprint(c)};
  std::memcpy(cache, &header, sizeof header);
  return static_cast<char*>(cache) + header.offset;
}

// The sections that the forward wrote, where its header says.
const void* open_cache_for_backward(const void* cache, const LstmConfig& c) {
  CacheHeader header;
  std::memcpy(&header, cache, sizeof header);
  if (header.magic != kCacheMagic || header.offset < sizeof(CacheHeader) || header.offset > kCacheSlack)
    fail_argument(kKernel, "training_cache holds no training forward's cache: ",
                  "direct_apply_lstm_batch_training_caching with it writes one");
  if (header.fingerprint != cache_fingerprint(c))
    fail_argument(kKernel, "training_cache was written by a forward of another configuration (sizes, layers, ",
                  "directions or dropout differ from layer_params')");
  return static_cast<const char*>(cache) + header.offset;
}

}  // namespace

NeuronDescriptor to_neuron(const Activation& a, const char* what) {
  switch (a.function) {
    case ActivationFunction::identity: return {NeuronType::none};
    case ActivationFunction::rectified_linear: return {NeuronType::relu, 0.f};
    case ActivationFunction::leaky_rectified_linear: return {NeuronType::relu, a.alpha};
    case ActivationFunction::sigmoid: return {NeuronType::sigmoid};
    case ActivationFunction::tanh: return {NeuronType::tanh, 1.f, 1.f};
    case ActivationFunction::scaled_tanh: return {NeuronType::tanh, a.alpha, a.beta};
    case ActivationFunction::linear: return {NeuronType::linear, a.alpha, 0.f};
    case ActivationFunction::linear_with_bias: return {NeuronType::linear, a.alpha, a.beta};
    case ActivationFunction::hard_sigmoid: return {NeuronType::hard_sigmoid, a.alpha, a.beta};
    case ActivationFunction::softplus: return {NeuronType::soft_plus, a.alpha, a.beta};
    case ActivationFunction::softsign: return {NeuronType::soft_sign};
    case ActivationFunction::elu: return {NeuronType::elu, a.alpha};
    case ActivationFunction::relu6: return {NeuronType::relu_n, 0.f, 6.f};
    case ActivationFunction::abs: return {NeuronType::absolute};
  }
  fail_argument(kKernel, what, " has an unknown activation function");
}

std::size_t compute_lstm_training_cache_capacity(const LayerParametersLSTM& layer_params) {
  return cache_capacity(make_config(layer_params));
}

void direct_apply_lstm_batch_training_caching(const LayerParametersLSTM& p, const FilterParameters* f,
                                              void* training_cache, std::size_t capacity) {
  const Checked k = check_forward(p);
  if (training_cache) check_capacity(capacity, k.config);
  ArgumentSpans spans;
  spans.add(p.input_descriptor, "input_descriptor", false);
  spans.add(p.output_descriptor, "output_descriptor", true);
  spans.add_gates(p, "", false);
  spans.add(training_cache, cache_capacity(k.config), "training_cache", true);
  spans.check();
  detail::LstmForwardArgs a = forward_args(p, k, f);
  if (training_cache) a.cache = wrap(open_cache_for_forward(training_cache, k.config), k.config.cache_bytes());
  run(&detail::Backend::encode_lstm_forward, a);
}

void direct_apply_lstm_batch_backward(const LayerParametersLSTM& p, const LayerParametersLSTM& delta,
                                      const FilterParameters* f, const void* training_cache, std::size_t capacity) {
  const Checked k = check_forward(p);
  const LstmConfig& c = k.config;
  check_gate_arrays(delta, c, "layer_delta_params.", false);
  check_data(delta.input_descriptor, c, "layer_delta_params.input_descriptor", c.input_size, false);
  check_data(delta.output_descriptor, c, "layer_delta_params.output_descriptor", c.directions * c.hidden_size, false);
  for (int g = 0; g < 4; ++g)
    if (gate(delta, g).cw_desc.data && !c.peephole[g])
      fail_argument(kKernel, "layer_delta_params.", kGateNames[g], ".cw_desc is given but the layer has no ",
                    "peephole for that gate");
  if (training_cache) check_capacity(capacity, c);
  ArgumentSpans spans;
  spans.add(p.input_descriptor, "input_descriptor", false);
  spans.add_gates(p, "", false);
  spans.add(training_cache, cache_capacity(c), "training_cache", false);
  spans.add(delta.output_descriptor, "layer_delta_params.output_descriptor", false);
  spans.add(delta.input_descriptor, "layer_delta_params.input_descriptor", true);
  spans.add_gates(delta, "layer_delta_params.", true);
  spans.check();

  detail::LstmForwardArgs forward = forward_args(p, k, f);
  detail::TensorRef cache =
      training_cache ? wrap(open_cache_for_backward(training_cache, c), c.cache_bytes()) : detail::TensorRef{};
  if (!cache) {  // Apple's contract: with no cache, backward recomputes the forward
    cache = allocate(c.cache_bytes());
    forward.cache = cache;
    forward.y = allocate(k.sequence_out * 4);
    forward.hn = forward.cn = {};
    run(&detail::Backend::encode_lstm_forward, forward);
  }
  detail::LstmBackwardArgs b;
  b.config = c;
  b.x = forward.x;
  b.h0 = forward.h0;
  b.c0 = forward.c0;
  b.weights = forward.weights;
  b.gradients = gate_list(delta, c);
  b.cache = cache;
  std::tie(b.dy, b.dhn, b.dcn) = wrap(delta.output_descriptor, k.sequence_out, k.states);
  std::tie(b.dx, b.dh0, b.dc0) = wrap(delta.input_descriptor, k.sequence_in, k.states);
  b.reference = f && f->use_reference_kernel;
  run(&detail::Backend::encode_lstm_backward, b);
}

}  // namespace mpsnn::bnns
