// BNNS-style direct-apply LSTM (Accelerate's BNNSLayerParametersLSTM,
// BNNSComputeLSTMTrainingCacheCapacity, BNNSDirectApplyLSTMBatchTrainingCaching,
// BNNSDirectApplyLSTMBatchBackward) on the CPU. Calls are synchronous and
// thread-safe; all memory is the caller's. An array a call writes (outputs,
// gradients, the cache in the forward) must not overlap any other array of
// the call: the call refuses it (std::invalid_argument) before writing anything.
//
// Shapes (docs/lstm-layout.md fixes them; L layers, D directions, H hidden,
// I input_size, B batch_size, T seq_len), all float32, C-contiguous:
//   input_descriptor.data_desc      x    [T][B][I]  (data_layout nse: [B][T][I])   read
//   input_descriptor.hidden_desc    h0   [L*D][B][H]   read; absent: zeros
//   input_descriptor.cell_state_desc c0  [L*D][B][H]   read; absent: zeros
//   output_descriptor.data_desc     y    [T][B][D*H] ([B][T][D*H])                 written
//   output_descriptor.hidden_desc   hn   [L*D][B][H]   written when present
//   output_descriptor.cell_state_desc cn [L*D][B][H]   written when present
//   gate.iw_desc[0]  [L][D][H][I]: every layer's input weights, when every layer
//                    reads I features (L == 1, or I == D*H) and iw_desc[1] is absent;
//                    otherwise [1][D][H][I], the first layer's, and
//   gate.iw_desc[1]  [L-1][D][H][D*H] for layers 1..L-1 (Apple's duplicated iw_desc)
//   gate.hw_desc     [L][D][H][H]
//   gate.cw_desc     [L][D][H] (diagonal peephole) or [L][D][H][H] (full); absent: none
//   gate.b_desc      [L][D][H]; absent: zeros
// In the backward call, `layer_delta_params` mirrors `layer_params` with
// gradients: its output descriptor holds dy, dhn, dcn (read; absent: zeros),
// its input descriptor dx, dh0, dc0 and its gates the weight and bias
// gradients (written, overwritten, when present).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mpsnn/export.hpp"
#include "mpsnn/neuron.hpp"

namespace mpsnn::bnns {

// BNNSActivationFunction (those an LSTM can use), with Apple's alpha/beta.
enum class ActivationFunction {
  identity,                 // x
  rectified_linear,         // max(x, 0)
  leaky_rectified_linear,   // x >= 0 ? x : alpha*x
  sigmoid,                  // 1 / (1 + e^-x)
  tanh,                     // tanh(x)
  scaled_tanh,              // alpha * tanh(beta*x)
  linear,                   // alpha * x
  linear_with_bias,         // alpha * x + beta
  hard_sigmoid,             // clamp(alpha*x + beta, 0, 1)
  softplus,                 // alpha * log(1 + e^(beta*x))
  softsign,                 // x / (1 + |x|)
  elu,                      // x >= 0 ? x : alpha*(e^x - 1)
  relu6,                    // min(max(x, 0), 6)
  abs,                      // |x| (hidden_activation only)
};

struct Activation {
  ActivationFunction function = ActivationFunction::identity;
  float alpha = 0.f;
  float beta = 0.f;
};

// The neuron an activation denotes; throws std::invalid_argument naming `what`.
MPSNN_API NeuronDescriptor to_neuron(const Activation& activation, const char* what);

// BNNSDataLayoutSNE / BNNSDataLayoutNSE.
enum class DataLayout { sne, nse };

// Memory and shape of one array (BNNSNDArrayDescriptor, shape outermost
// first). data == nullptr means absent.
struct NDArrayDescriptor {
  float* data = nullptr;
  std::vector<std::size_t> shape;
};

struct LSTMDataDescriptor {
  NDArrayDescriptor data_desc, hidden_desc, cell_state_desc;
};

struct LSTMGateDescriptor {
  NDArrayDescriptor iw_desc[2];
  NDArrayDescriptor hw_desc, cw_desc, b_desc;
  Activation activation;
};

enum LayerFlags : std::uint32_t {
  lstm_bidirectional = 1u << 0,
  // sigmoid for the input, forget and output gates, tanh for the candidate
  // gate and the hidden activation; the descriptors' activations are ignored.
  lstm_default_activations = 1u << 1,
};

struct LayerParametersLSTM {
  std::size_t input_size = 0, hidden_size = 0, batch_size = 0, num_layers = 1, seq_len = 0;
  float dropout = 0.f;  // between layers, training forward only; [0, 1)
  std::uint32_t lstm_flags = 0;
  LSTMDataDescriptor input_descriptor, output_descriptor;
  LSTMGateDescriptor input_gate, forget_gate, candidate_gate, output_gate;
  Activation hidden_activation{ActivationFunction::tanh};  // applied to c before O ⊙
  DataLayout data_layout = DataLayout::sne;  // mpsnn: BNNS reads it off data_desc
  std::uint64_t dropout_seed = 0;           // mpsnn: dropout masks are reproducible
};

struct FilterParameters {
  bool use_reference_kernel = false;  // the plain reference implementation, for validation
};

// Bytes of training cache the forward writes and the backward reads:
// Σ over layers of D·T·B·5H·4 (gate activations and cell states)
// + T·B·D·H·4 (hidden states) + T·B·D·H (dropout mask, layers > 0 when
// dropout > 0), each section rounded up to 64 bytes, + 79: a 16-byte header
// and up to 63 bytes to start the sections on a 64-byte boundary wherever the
// cache lies (docs/lstm-layout.md).
MPSNN_API std::size_t compute_lstm_training_cache_capacity(const LayerParametersLSTM& layer_params);

// Forward. With a training cache (at least the capacity above) it writes the
// cache and applies dropout; without one it is an inference pass.
MPSNN_API void direct_apply_lstm_batch_training_caching(const LayerParametersLSTM& layer_params,
                                                        const FilterParameters* filter_params = nullptr,
                                                        void* training_cache = nullptr,
                                                        std::size_t training_cache_capacity = 0);

// Backward from the cache the training forward of the same inputs wrote; with
// no cache it runs that forward itself first.
MPSNN_API void direct_apply_lstm_batch_backward(const LayerParametersLSTM& layer_params,
                                                const LayerParametersLSTM& layer_delta_params,
                                                const FilterParameters* filter_params = nullptr,
                                                const void* training_cache = nullptr,
                                                std::size_t training_cache_capacity = 0);

}  // namespace mpsnn::bnns
