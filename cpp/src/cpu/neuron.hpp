// Neuron functions and their derivatives on the CPU. The scalar templates are
// the definitions (the reference kernel runs them in double); the array
// functions are the fast path's, vectorisable for the default gate types.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mpsnn/neuron.hpp"

// The array functions are always inlined so that they take the instruction
// set of the (multiversioned) pass that calls them.
#define MPSNN_ALWAYS_INLINE inline __attribute__((always_inline))

namespace mpsnn::cpu {

template <typename T>
T neuron_value(const NeuronDescriptor& n, T x) {
  const T a = n.a, b = n.b, c = n.c;
  switch (n.type) {
    case NeuronType::none: return x;
    case NeuronType::relu: return x >= 0 ? x : a * x;
    case NeuronType::linear: return a * x + b;
    case NeuronType::sigmoid: return T(1) / (T(1) + std::exp(-x));
    case NeuronType::hard_sigmoid: return std::fmin(std::fmax(a * x + b, T(0)), T(1));
    case NeuronType::tanh: return a * std::tanh(b * x);
    case NeuronType::absolute: return std::fabs(x);
    case NeuronType::soft_plus: return a * std::log1p(std::exp(b * x));
    case NeuronType::soft_sign: return x / (T(1) + std::fabs(x));
    case NeuronType::elu: return x >= 0 ? x : a * (std::exp(x) - T(1));
    case NeuronType::relu_n: return std::fmin(x >= 0 ? x : a * x, b);
    case NeuronType::power: return std::pow(a * x + b, c);
    case NeuronType::exponential: return c == T(-1) ? std::exp(a * x + b) : std::pow(c, a * x + b);
    case NeuronType::logarithm:
      return c == T(-1) ? std::log(a * x + b) : std::log(a * x + b) / std::log(c);
    case NeuronType::gelu: return T(0.5) * x * (T(1) + std::erf(x / std::sqrt(T(2))));
  }
  return x;
}

template <typename T>
T neuron_derivative(const NeuronDescriptor& n, T x) {
  const T a = n.a, b = n.b, c = n.c;
  switch (n.type) {
    case NeuronType::none: return 1;
    case NeuronType::relu: return x >= 0 ? T(1) : a;
    case NeuronType::linear: return a;
    case NeuronType::sigmoid: { const T s = neuron_value(n, x); return s * (T(1) - s); }
    case NeuronType::hard_sigmoid: { const T v = a * x + b; return v > 0 && v < 1 ? a : T(0); }
    case NeuronType::tanh: { const T t = std::tanh(b * x); return a * b * (T(1) - t * t); }
    case NeuronType::absolute: return x > 0 ? T(1) : (x < 0 ? T(-1) : T(0));
    case NeuronType::soft_plus: return a * b / (T(1) + std::exp(-b * x));
    case NeuronType::soft_sign: { const T d = T(1) + std::fabs(x); return T(1) / (d * d); }
    case NeuronType::elu: return x >= 0 ? T(1) : a * std::exp(x);
    case NeuronType::relu_n: { const T v = x >= 0 ? x : a * x; return v < b ? (x >= 0 ? T(1) : a) : T(0); }
    case NeuronType::power: return c * a * std::pow(a * x + b, c - T(1));
    case NeuronType::exponential: return a * (c == T(-1) ? T(1) : std::log(c)) * neuron_value(n, x);
    case NeuronType::logarithm: return a / ((a * x + b) * (c == T(-1) ? T(1) : std::log(c)));
    case NeuronType::gelu: {
      const T pi = T(3.14159265358979323846);
      return T(0.5) * (T(1) + std::erf(x / std::sqrt(T(2)))) + x * std::exp(-x * x / 2) / std::sqrt(2 * pi);
    }
  }
  return 1;
}

template <typename T>
T neuron_derivative_from_output(const NeuronDescriptor& n, T y) {
  const T a = n.a, b = n.b, c = n.c;
  switch (n.type) {
    case NeuronType::relu: return y > 0 ? T(1) : a;
    case NeuronType::linear: return a;
    case NeuronType::sigmoid: return y * (T(1) - y);
    case NeuronType::hard_sigmoid: return y > 0 && y < 1 ? a : T(0);
    case NeuronType::tanh: return b * (a - y * y / a);
    case NeuronType::soft_plus: return a * b * (T(1) - std::exp(-y / a));
    case NeuronType::soft_sign: { const T d = T(1) - std::fabs(y); return d * d; }
    case NeuronType::elu: return y > 0 ? T(1) : y + a;
    case NeuronType::relu_n: return y >= b ? T(0) : (y > 0 ? T(1) : a);
    case NeuronType::exponential: return y * a * (c == T(-1) ? T(1) : std::log(c));
    case NeuronType::logarithm:
      return c == T(-1) ? a / std::exp(y) : a / (std::pow(c, y) * std::log(c));
    default: return 1;  // none; detail::validate_neurons refuses the others for gates
  }
}

// e^x to about 2 ulp, written so that loops over it vectorise (Cephes' expf).
// NaN stays NaN; x is clamped to [-87.3, 88.4]: e^x is a normal float, or inf
// at the very top (floor(x·log2 e + 0.5) reaches 128 there), which the
// activations below turn into their limits.
MPSNN_ALWAYS_INLINE float exp_approx(float x) {
  // Clamped, and NaN replaced by 0 for the arithmetic: converting NaN to int is
  // undefined. The NaN comes back in the result below.
  float v = x == x ? x : 0.0f;
  v = v > 88.3762626647949f ? 88.3762626647949f : v;
  v = v < -87.3365447504f ? -87.3365447504f : v;
  const float n = float(int(v * 1.44269504088896341f + 128.5f) - 128);
  float r = v - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const std::int32_t bits = (std::int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x == x ? p * scale : x;  // NaN in, NaN out
}

// The default gate activations over arrays, as loops the compiler vectorises
// for whichever instruction set its caller is built for.
struct PortableActivations {
  // p[i] = 1 / (1 + e^-p[i])
  MPSNN_ALWAYS_INLINE static void sigmoid(float* p, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) p[i] = 1.0f / (1.0f + exp_approx(-p[i]));
  }
  // p[i] = a·tanh(b·p[i])
  MPSNN_ALWAYS_INLINE static void tanh(float* p, std::size_t count, float a, float b) {
    const float b2 = 2.0f * b;
    for (std::size_t i = 0; i < count; ++i) p[i] = a - 2.0f * a / (exp_approx(b2 * p[i]) + 1.0f);
  }
  // value[i] = a·tanh(b·x[i]), slope[i] = its derivative
  MPSNN_ALWAYS_INLINE static void tanh_and_slope(const float* x, float* value, float* slope, std::size_t count,
                                                 float a, float b) {
    const float b2 = 2.0f * b, ab = a * b;
    for (std::size_t i = 0; i < count; ++i) {
      const float t = 1.0f - 2.0f / (exp_approx(b2 * x[i]) + 1.0f);
      value[i] = a * t;
      slope[i] = ab * (1.0f - t * t);
    }
  }
};

// In place: p[i] = f(p[i]).
template <typename Activations = PortableActivations>
MPSNN_ALWAYS_INLINE void activate(const NeuronDescriptor& n, float* p, std::size_t count) {
  if (n.type == NeuronType::sigmoid) {
    Activations::sigmoid(p, count);
  } else if (n.type == NeuronType::tanh) {
    Activations::tanh(p, count, n.a, n.b);
  } else if (n.type != NeuronType::none) {
    for (std::size_t i = 0; i < count; ++i) p[i] = neuron_value(n, p[i]);
  }
}

// g[i] *= f'(x) where y[i] = f(x).
MPSNN_ALWAYS_INLINE void scale_by_derivative_from_output(const NeuronDescriptor& n, const float* y, float* g,
                                            std::size_t count) {
  if (n.type == NeuronType::sigmoid) {
    for (std::size_t i = 0; i < count; ++i) g[i] *= y[i] * (1.0f - y[i]);
  } else if (n.type == NeuronType::tanh) {
    const float a = n.a, b = n.b, inv_a = 1.0f / n.a;
    for (std::size_t i = 0; i < count; ++i) g[i] *= b * (a - y[i] * y[i] * inv_a);
  } else if (n.type != NeuronType::none) {
    for (std::size_t i = 0; i < count; ++i) g[i] *= neuron_derivative_from_output(n, y[i]);
  }
}

// value[i] = f(x[i]) and derivative[i] = f'(x[i]).
template <typename Activations = PortableActivations>
MPSNN_ALWAYS_INLINE void evaluate(const NeuronDescriptor& n, const float* x, float* value, float* derivative,
                     std::size_t count) {
  if (n.type == NeuronType::tanh) {
    Activations::tanh_and_slope(x, value, derivative, count, n.a, n.b);
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      value[i] = neuron_value(n, x[i]);
      derivative[i] = neuron_derivative(n, x[i]);
    }
  }
}

}  // namespace mpsnn::cpu
