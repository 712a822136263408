// The LSTM problem as the kernels see it, and the offsets of the training
// cache layout of docs/lstm-layout.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mpsnn/neuron.hpp"

namespace mpsnn::detail {

struct LstmConfig {
  std::size_t input_size = 0, hidden_size = 0, num_layers = 1, directions = 1;
  std::size_t batch = 0, seq_len = 0;
  bool batch_first = false;  // NSE: x and y are [B][T][*]
  NeuronDescriptor gate_neuron[4];
  NeuronDescriptor cell_output_neuron;  // gh
  bool peephole[4] = {false, false, false, false};
  bool peephole_diagonal = true;
  float dropout = 0.f;
  std::uint64_t seed = 0;

  std::size_t layer_input(std::size_t layer) const {
    return layer == 0 ? input_size : directions * hidden_size;
  }
  bool uses_dropout(std::size_t layer) const { return dropout > 0.f && layer > 0; }

  // Index of gate k of (layer, direction) in a list of per-gate parameters.
  std::size_t gate_index(std::size_t layer, std::size_t direction, int gate) const {
    return (layer * directions + direction) * 4 + std::size_t(gate);
  }
  std::size_t gate_count() const { return num_layers * directions * 4; }

  // Training cache, in bytes.
  std::size_t cache_gates(std::size_t layer, std::size_t direction) const;
  std::size_t cache_cells(std::size_t layer, std::size_t direction) const;
  std::size_t cache_output(std::size_t layer) const;
  std::size_t cache_mask(std::size_t layer) const;  // valid when uses_dropout(layer)
  std::size_t cache_bytes() const { return cache_gates(num_layers, 0); }

  // Data strides (elements) of x/y for time step t and batch row b.
  std::size_t step_stride(std::size_t width) const { return batch_first ? width : batch * width; }
  std::size_t row_stride(std::size_t width) const { return batch_first ? seq_len * width : width; }
};

// Throws std::invalid_argument (prefixed with `kernel`) unless every neuron
// can serve where the config puts it. Gates keep only their outputs for the
// backward pass, so a gate neuron needs a derivative that is a function of its
// output, which |x|, power and GELU lack.
void validate_neurons(const LstmConfig& config, const char* kernel, const char* const gate_names[4],
                      const char* cell_output_name);

}  // namespace mpsnn::detail
