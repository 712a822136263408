#include "core/lstm.hpp"

#include <cmath>

#include "core/check.hpp"

namespace mpsnn {

const char* to_string(NeuronType type) {
  switch (type) {
    case NeuronType::none: return "none";
    case NeuronType::relu: return "relu";
    case NeuronType::linear: return "linear";
    case NeuronType::sigmoid: return "sigmoid";
    case NeuronType::hard_sigmoid: return "hard_sigmoid";
    case NeuronType::tanh: return "tanh";
    case NeuronType::absolute: return "absolute";
    case NeuronType::soft_plus: return "soft_plus";
    case NeuronType::soft_sign: return "soft_sign";
    case NeuronType::elu: return "elu";
    case NeuronType::relu_n: return "relu_n";
    case NeuronType::power: return "power";
    case NeuronType::exponential: return "exponential";
    case NeuronType::logarithm: return "logarithm";
    case NeuronType::gelu: return "gelu";
  }
  return "unknown";
}

namespace detail {

namespace {
constexpr std::size_t align64(std::size_t bytes) { return (bytes + 63) / 64 * 64; }
}  // namespace

// Walks the sections of docs/lstm-layout.md up to (layer, direction, section).
namespace {
enum Section { gates = 0, cells = 1, output = 2, mask = 3 };
std::size_t cache_offset(const LstmConfig& c, std::size_t layer, std::size_t direction, Section section) {
  const std::size_t steps = c.seq_len * c.batch, H = c.hidden_size;
  std::size_t offset = 0;
  for (std::size_t l = 0; l <= layer && l < c.num_layers; ++l) {
    for (std::size_t d = 0; d < c.directions; ++d) {
      if (l == layer && d == direction && section == gates) return offset;
      offset += align64(steps * 4 * H * sizeof(float));
      if (l == layer && d == direction && section == cells) return offset;
      offset += align64(steps * H * sizeof(float));
    }
    if (l == layer && section == output) return offset;
    offset += align64(steps * c.directions * H * sizeof(float));
    if (l == layer && section == mask) return offset;
    if (c.uses_dropout(l)) offset += align64(steps * c.directions * H);
  }
  return offset;
}
}  // namespace

std::size_t LstmConfig::cache_gates(std::size_t l, std::size_t d) const { return cache_offset(*this, l, d, gates); }
std::size_t LstmConfig::cache_cells(std::size_t l, std::size_t d) const { return cache_offset(*this, l, d, cells); }
std::size_t LstmConfig::cache_output(std::size_t l) const { return cache_offset(*this, l, 0, output); }
std::size_t LstmConfig::cache_mask(std::size_t l) const { return cache_offset(*this, l, 0, mask); }

void validate_neurons(const LstmConfig& config, const char* kernel, const char* const gate_names[4],
                      const char* cell_output_name) {
  auto check = [&](const NeuronDescriptor& n, const char* name, bool gate) {
    if (!std::isfinite(n.a) || !std::isfinite(n.b) || !std::isfinite(n.c))
      fail_argument(kernel, name, " has non-finite parameters");
    if (gate && (n.type == NeuronType::absolute || n.type == NeuronType::power || n.type == NeuronType::gelu))
      fail_argument(kernel, name, " cannot be ", to_string(n.type),
                    ": a gate's derivative must follow from its output, which the training cache keeps");
    if (n.type == NeuronType::tanh && n.a == 0.f) fail_argument(kernel, name, " tanh needs a != 0 (a*tanh(b*x))");
    if (n.type == NeuronType::soft_plus && n.a == 0.f) fail_argument(kernel, name, " soft_plus needs a != 0");
    if (gate && (n.type == NeuronType::relu || n.type == NeuronType::relu_n) && n.a < 0.f)
      fail_argument(kernel, name, " relu needs a >= 0 for its derivative to follow from its output");
    if (gate && n.type == NeuronType::elu && n.a <= 0.f) fail_argument(kernel, name, " elu needs a > 0");
    if ((n.type == NeuronType::exponential || n.type == NeuronType::logarithm) && n.c != -1.f && !(n.c > 0.f && n.c != 1.f))
      fail_argument(kernel, name, " ", to_string(n.type), " needs base c > 0, c != 1 (or -1 for e)");
  };
  for (int k = 0; k < 4; ++k) check(config.gate_neuron[k], gate_names[k], true);
  check(config.cell_output_neuron, cell_output_name, false);
}

}  // namespace detail
}  // namespace mpsnn
