// The LSTM problem as the kernels see it, and the offsets of the packed
// parameter and training-cache layouts of docs/lstm-layout.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mpsnn/neuron.hpp"

namespace mpsnn::detail {

enum LstmGate { gate_input = 0, gate_forget = 1, gate_cell = 2, gate_output = 3 };

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
  bool has_peephole() const { return peephole[0] || peephole[1] || peephole[2] || peephole[3]; }
  bool uses_dropout(std::size_t layer) const { return dropout > 0.f && layer > 0; }

  // Packed parameters, in elements.
  std::size_t peephole_elements() const {
    return has_peephole() ? 4 * hidden_size * (peephole_diagonal ? 1 : hidden_size) : 0;
  }
  std::size_t block_elements(std::size_t layer) const {
    return 4 * hidden_size * (layer_input(layer) + hidden_size + 1) + peephole_elements();
  }
  std::size_t block_offset(std::size_t layer, std::size_t direction) const;
  std::size_t parameter_elements() const { return block_offset(num_layers, 0); }
  // Within a block.
  std::size_t u_offset(std::size_t layer) const { return 4 * hidden_size * layer_input(layer); }
  std::size_t b_offset(std::size_t layer) const { return u_offset(layer) + 4 * hidden_size * hidden_size; }
  std::size_t v_offset(std::size_t layer) const { return b_offset(layer) + 4 * hidden_size; }

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
