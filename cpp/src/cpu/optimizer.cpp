// Optimizer updates: one fused pass over each tensor's memory. Every option set
// gets its own branch-free, restrict-qualified loop, which the compiler
// vectorises; large updates are split across threads, since one core cannot
// saturate memory bandwidth. MPSNN_CPU_REFERENCE=1 in the environment selects
// the plain reference loop instead (the tests compare the two).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/command_buffer_state.hpp"
#include "cpu/backend.hpp"
#include "cpu/thread_pool.hpp"

namespace mpsnn::cpu {

namespace {

using detail::OptimizerArgs;
using detail::OptimizerTensor;
using Loop = void (*)(const OptimizerArgs&, std::size_t, float*, const float*, float*, float*,
                      float*);

// The descriptor's preprocessing: clip (before rescaling), rescale, then add
// the regularization gradient.
template <bool Clip, RegularizationType Regularization>
struct Prepare {
  float low, high, rescale, scale;
  explicit Prepare(const OptimizerArgs& a)
      : low(a.clip_min), high(a.clip_max), rescale(a.gradient_rescale),
        scale(a.regularization_scale) {}
  float operator()(float g, float w) const {
    if constexpr (Clip) g = std::min(std::max(g, low), high);
    g *= rescale;
    if constexpr (Regularization == RegularizationType::l1)
      g += scale * static_cast<float>((w > 0.f) - (w < 0.f));
    if constexpr (Regularization == RegularizationType::l2) g += scale * w;
    return g;
  }
};

// The rules, element i at a time; the state pointers come in OptimizerState
// order. Each captures its hyperparameters once, outside the loop.
struct Sgd {
  float lr;
  explicit Sgd(const OptimizerArgs& a) : lr(a.learning_rate) {}
  void operator()(float g, float& w, float*, float*, float*, std::size_t) const { w -= lr * g; }
};

struct SgdMomentum {
  float lr, mu;
  explicit SgdMomentum(const OptimizerArgs& a) : lr(a.learning_rate), mu(a.momentum_scale) {}
  void operator()(float g, float& w, float* m, float*, float*, std::size_t i) const {
    const float mi = mu * m[i] + lr * g;
    m[i] = mi;
    w -= mi;
  }
};

struct SgdNesterov {
  float lr, mu;
  explicit SgdNesterov(const OptimizerArgs& a) : lr(a.learning_rate), mu(a.momentum_scale) {}
  void operator()(float g, float& w, float* m, float*, float*, std::size_t i) const {
    const float mi = mu * m[i] + g;
    m[i] = mi;
    w -= lr * (g + mu * mi);
  }
};

struct RmsProp {
  float lr, d, e, eps;
  explicit RmsProp(const OptimizerArgs& a)
      : lr(a.learning_rate), d(a.beta2), e(a.one_minus_beta2), eps(a.epsilon) {}
  void operator()(float g, float& w, float* s, float*, float*, std::size_t i) const {
    const float si = d * s[i] + e * (g * g);
    s[i] = si;
    w -= lr * g / (std::sqrt(si) + eps);
  }
};

template <bool MaximumVelocity>
struct Adam {
  float lr, b1, c1, b2, c2, eps;
  explicit Adam(const OptimizerArgs& a)
      : lr(a.learning_rate), b1(a.beta1), c1(a.one_minus_beta1), b2(a.beta2),
        c2(a.one_minus_beta2), eps(a.epsilon) {}
  void operator()(float g, float& w, float* m, float* v, float* u, std::size_t i) const {
    const float mi = b1 * m[i] + c1 * g;
    float vi = b2 * v[i] + c2 * (g * g);
    m[i] = mi;
    v[i] = vi;
    if constexpr (MaximumVelocity) {
      vi = u[i] > vi ? u[i] : vi;
      u[i] = vi;
    }
    w -= lr * mi / (std::sqrt(vi) + eps);
  }
};

// One pass: restrict tells the compiler the operands never alias (core checked
// that), which is what lets it vectorise.
template <class Rule, bool Clip, RegularizationType Regularization>
void run(const OptimizerArgs& a, std::size_t n, float* __restrict w, const float* __restrict g,
         float* __restrict s0, float* __restrict s1, float* __restrict s2) {
  const Prepare<Clip, Regularization> prepare(a);
  const Rule rule(a);
  for (std::size_t i = 0; i < n; ++i) rule(prepare(g[i], w[i]), w[i], s0, s1, s2, i);
}

template <class Rule, bool Clip>
Loop select(RegularizationType r) {
  switch (r) {
    case RegularizationType::l1: return run<Rule, Clip, RegularizationType::l1>;
    case RegularizationType::l2: return run<Rule, Clip, RegularizationType::l2>;
    default: return run<Rule, Clip, RegularizationType::none>;
  }
}

template <class Rule>
Loop select(const OptimizerArgs& a) {
  return a.clip ? select<Rule, true>(a.regularization) : select<Rule, false>(a.regularization);
}

// Chosen per tensor: states of one list may differ (AMSGrad or not).
Loop fast_loop(const OptimizerArgs& a, const OptimizerTensor& t) {
  switch (a.kind) {
    case OptimizerKind::rms_prop: return select<RmsProp>(a);
    case OptimizerKind::adam:
      return t.states[2].storage ? select<Adam<true>>(a) : select<Adam<false>>(a);
    default:
      if (!t.states[0].storage) return select<Sgd>(a);
      return a.nesterov ? select<SgdNesterov>(a) : select<SgdMomentum>(a);
  }
}

// Apple's formulas element by element, every option a run-time branch.
void reference_loop(const OptimizerArgs& a, std::size_t n, float* w, const float* g, float* s0,
                    float* s1, float* s2) {
  for (std::size_t i = 0; i < n; ++i) {
    float x = g[i];
    if (a.clip) x = std::min(std::max(x, a.clip_min), a.clip_max);
    x = a.gradient_rescale * x;
    if (a.regularization == RegularizationType::l1)
      x = x + a.regularization_scale * (w[i] > 0.f ? 1.f : w[i] < 0.f ? -1.f : 0.f);
    else if (a.regularization == RegularizationType::l2)
      x = x + a.regularization_scale * w[i];
    if (a.kind == OptimizerKind::stochastic_gradient_descent) {
      if (!s0) {
        w[i] = w[i] - a.learning_rate * x;
      } else if (a.nesterov) {
        s0[i] = a.momentum_scale * s0[i] + x;
        w[i] = w[i] - a.learning_rate * (x + a.momentum_scale * s0[i]);
      } else {
        s0[i] = a.momentum_scale * s0[i] + a.learning_rate * x;
        w[i] = w[i] - s0[i];
      }
    } else if (a.kind == OptimizerKind::rms_prop) {
      s0[i] = a.beta2 * s0[i] + a.one_minus_beta2 * (x * x);
      w[i] = w[i] - a.learning_rate * x / (std::sqrt(s0[i]) + a.epsilon);
    } else {
      s0[i] = a.beta1 * s0[i] + a.one_minus_beta1 * x;
      s1[i] = a.beta2 * s1[i] + a.one_minus_beta2 * (x * x);
      float v = s1[i];
      if (s2) v = s2[i] = s2[i] > s1[i] ? s2[i] : s1[i];
      w[i] = w[i] - a.learning_rate * s0[i] / (std::sqrt(v) + a.epsilon);
    }
  }
}

float* at(const detail::MatrixOperand& op, const OptimizerTensor& t, std::size_t row,
          std::size_t column) {
  if (!op.storage) return nullptr;
  return host<float>(op.storage, op.offset_bytes + (row / t.rows) * op.matrix_bytes +
                                     (row % t.rows) * op.row_bytes + column * sizeof(float));
}

// Runs elements [first, last) of tensor t (rows of every matrix in order).
void run_range(const OptimizerArgs& a, const OptimizerTensor& t, Loop loop, std::size_t first,
               std::size_t last) {
  while (first < last) {
    const std::size_t row = first / t.columns, column = first % t.columns;
    const std::size_t n = std::min(t.columns - column, last - first);
    loop(a, n, at(t.weights, t, row, column), at(t.gradient, t, row, column),
         at(t.states[0], t, row, column), at(t.states[1], t, row, column),
         at(t.states[2], t, row, column));
    first += n;
  }
}

// Work is handed out in chunks of this many elements of one tensor (1.25 MB
// of Adam's five operands), so that a thread the OS delays holds up only a chunk.
constexpr std::size_t kChunk = std::size_t(1) << 16;

void run_all(const OptimizerArgs& a, const std::vector<Loop>& loops) {
  struct Chunk {
    std::size_t tensor, first, last;
  };
  std::vector<Chunk> chunks;
  std::size_t total = 0;
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    const OptimizerTensor& t = a.tensors[i];
    const std::size_t size = t.matrices * t.rows * t.columns;
    for (std::size_t first = 0; first < size; first += kChunk)
      chunks.push_back({i, first, std::min(size, first + kChunk)});
    total += size;
  }
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < chunks.size();)
      run_range(a, a.tensors[chunks[c].tensor], loops[chunks[c].tensor], chunks[c].first,
                chunks[c].last);
  };
  // Worth a second thread from two chunks' work each.
  const int parts = int(std::max<std::size_t>(1, std::min<std::size_t>(threads(), total / (2 * kChunk))));
  parallel_for(parts, [&](int) { work(); });
}

}  // namespace

void CpuBackend::encode_optimizer(detail::CommandBufferState& buffer, const OptimizerArgs& args) {
  const char* reference = std::getenv("MPSNN_CPU_REFERENCE");
  const bool use_reference = reference && reference[0] == '1';
  std::vector<Loop> loops;
  for (const auto& t : args.tensors) loops.push_back(use_reference ? reference_loop : fast_loop(args, t));
  buffer.add_command([args, loops = std::move(loops)] { run_all(args, loops); });
}

}  // namespace mpsnn::cpu
