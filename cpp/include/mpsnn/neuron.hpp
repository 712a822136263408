// Neuron (activation) functions, as MPSCNNNeuronType with parameters a, b, c.
#pragma once

#include "mpsnn/export.hpp"

namespace mpsnn {

// f(x) for each type (Apple's definitions):
//   none          x                          relu        x >= 0 ? x : a*x
//   linear        a*x + b                    sigmoid     1 / (1 + e^-x)
//   hard_sigmoid  clamp(a*x + b, 0, 1)       tanh        a * tanh(b*x)
//   absolute      |x|                        soft_plus   a * log(1 + e^(b*x))
//   soft_sign     x / (1 + |x|)              elu         x >= 0 ? x : a*(e^x - 1)
//   relu_n        min(x >= 0 ? x : a*x, b)   power       (a*x + b)^c
//   exponential   c^(a*x + b) (c = -1: e)    logarithm   log_c(a*x + b) (c = -1: e)
//   gelu          x * Φ(x)
// (pReLU's per-channel slopes have no place in an LSTM gate and are not offered.)
enum class NeuronType {
  none, relu, linear, sigmoid, hard_sigmoid, tanh, absolute, soft_plus, soft_sign, elu,
  relu_n, power, exponential, logarithm, gelu
};

MPSNN_API const char* to_string(NeuronType type);

struct NeuronDescriptor {
  NeuronType type = NeuronType::none;
  float a = 0.f, b = 0.f, c = 0.f;
};

}  // namespace mpsnn
