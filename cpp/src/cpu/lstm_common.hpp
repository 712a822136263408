// What the fast and the reference CPU LSTM kernels share: where each tensor
// of docs/lstm-layout.md lives, the dropout mask function, layout copies.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/backend.hpp"
#include "cpu/backend.hpp"

namespace mpsnn::cpu {

// Keep element `index` of layer `layer`'s input? A pure function of its
// arguments (splitmix64), so masks do not depend on threads or call order.
inline bool dropout_keep(std::uint64_t seed, std::size_t layer, std::size_t index, float p) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (std::uint64_t(layer) * 0x100000001B3ull + index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return float(z >> 40) * (1.0f / 16777216.0f) >= p;
}

// The training cache of one LSTM call (docs/lstm-layout.md).
struct LstmCache {
  const detail::LstmConfig& c;
  char* cache;  // null for inference

  float* gates(std::size_t l, std::size_t d) const {
    return reinterpret_cast<float*>(cache + c.cache_gates(l, d));
  }
  float* cells(std::size_t l, std::size_t d) const {
    return reinterpret_cast<float*>(cache + c.cache_cells(l, d));
  }
  float* output(std::size_t l) const { return reinterpret_cast<float*>(cache + c.cache_output(l)); }
  std::uint8_t* mask(std::size_t l) const {
    return reinterpret_cast<std::uint8_t*>(cache + c.cache_mask(l));
  }
};

// Writes the keep-mask of layer l's input ([T][B][D*H], docs/lstm-layout.md).
inline void write_dropout_mask(const detail::LstmConfig& c, std::size_t layer, std::uint8_t* mask) {
  const std::size_t count = c.seq_len * c.batch * c.directions * c.hidden_size;
  for (std::size_t k = 0; k < count; ++k) mask[k] = dropout_keep(c.seed, layer, k, c.dropout);
}

// Host pointers of the four gates of one (layer, direction); null where absent.
template <typename T>
struct Gates {
  T* w[4];
  T* u[4];
  T* b[4];
  T* v[4];
  Gates(const std::vector<detail::LstmGate>& gates, const detail::LstmConfig& c, std::size_t l, std::size_t d) {
    for (int k = 0; k < 4; ++k) {
      const detail::LstmGate& g = gates[c.gate_index(l, d, k)];
      w[k] = host<float>(g.w);
      u[k] = host<float>(g.u);
      b[k] = host<float>(g.b);
      v[k] = host<float>(g.v);
    }
  }
};

// State (h0, c0, hn, ...) of layer l, direction d: [B][H] inside [L*D][B][H].
inline float* state(float* base, const detail::LstmConfig& c, std::size_t l, std::size_t d) {
  return base ? base + (l * c.directions + d) * c.batch * c.hidden_size : nullptr;
}

// Copies between user data in the call's layout (SNE or NSE, `width` features)
// and a contiguous [T][B][width] buffer.
inline void gather_steps(const detail::LstmConfig& c, const float* user, float* steps, std::size_t width) {
  for (std::size_t t = 0; t < c.seq_len; ++t)
    for (std::size_t b = 0; b < c.batch; ++b)
      std::memcpy(steps + (t * c.batch + b) * width,
                  user + t * c.step_stride(width) + b * c.row_stride(width), width * sizeof(float));
}
inline void scatter_steps(const detail::LstmConfig& c, const float* steps, float* user, std::size_t width) {
  for (std::size_t t = 0; t < c.seq_len; ++t)
    for (std::size_t b = 0; b < c.batch; ++b)
      std::memcpy(user + t * c.step_stride(width) + b * c.row_stride(width),
                  steps + (t * c.batch + b) * width, width * sizeof(float));
}

// out = in * mask / (1 - p), inverted dropout with the mask the forward wrote
// (in and out may be the same array).
inline void apply_dropout(const detail::LstmConfig& c, const float* in, float* out,
                          const std::uint8_t* mask, std::size_t count) {
  const float scale = 1.0f / (1.0f - c.dropout);
  for (std::size_t k = 0; k < count; ++k) out[k] = mask[k] ? in[k] * scale : 0.0f;
}

// Scratch memory that lives on the queue's thread between calls, so that a
// training loop does not fault in fresh pages every step; 64-byte aligned
// (copy_to_groups streams into aligned groups).
inline float* scratch(std::size_t slot, std::size_t count) {
  constexpr std::size_t kAlign = 64 / sizeof(float);
  thread_local std::vector<std::vector<float>> buffers;
  if (buffers.size() <= slot) buffers.resize(slot + 1);
  if (buffers[slot].size() < count + kAlign) buffers[slot].resize(count + kAlign);
  float* data = buffers[slot].data();
  return data + (kAlign - reinterpret_cast<std::uintptr_t>(data) / sizeof(float) % kAlign) % kAlign;
}

void lstm_forward_fast(const detail::LstmForwardArgs& args);
void lstm_backward_fast(const detail::LstmBackwardArgs& args);
void lstm_forward_reference(const detail::LstmForwardArgs& args);
void lstm_backward_reference(const detail::LstmBackwardArgs& args);

}  // namespace mpsnn::cpu
