#include "cpu/lstm_cell.hpp"

#include <algorithm>
#include <cstring>

#include "cpu/isa.hpp"
#include "cpu/neuron.hpp"
#include "cpu/neuron_x86.hpp"

namespace mpsnn::cpu {

namespace {

// dI = dc·C, dC = dc·I, dc ← dc·F (restrict parameters: GCC vectorises this
// form, not the same loop written inline in backward_gates).
inline __attribute__((always_inline)) void gate_gradients(
    float* __restrict d_input, float* __restrict d_candidate, float* __restrict dc, const float* __restrict input,
    const float* __restrict forget, const float* __restrict candidate, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    d_input[j] = dc[j] * candidate[j];
    d_candidate[j] = dc[j] * input[j];
    dc[j] *= forget[j];
  }
}

// dc += dI·Vi + dF·Vf + dC·Vc and the three peepholes' gradients d·c_prev,
// in one pass (each its own pass: +1-3% a step with diagonal peepholes).
inline __attribute__((always_inline)) void peephole_gradients(
    float* __restrict dc, float* __restrict dv_input, float* __restrict dv_forget, float* __restrict dv_candidate,
    const float* __restrict d_input, const float* __restrict d_forget, const float* __restrict d_candidate,
    const float* __restrict v_input, const float* __restrict v_forget, const float* __restrict v_candidate,
    const float* __restrict c_prev, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) {
    dc[j] = dc[j] + d_input[j] * v_input[j] + d_forget[j] * v_forget[j] + d_candidate[j] * v_candidate[j];
    dv_input[j] += d_input[j] * c_prev[j];
    dv_forget[j] += d_forget[j] * c_prev[j];
    dv_candidate[j] += d_candidate[j] * c_prev[j];
  }
}

// gates += bias + V·c_prev, one pass for both.
inline __attribute__((always_inline)) void add_bias_and_peephole(float* __restrict gates, const float* __restrict bias,
                                                                 const float* __restrict v,
                                                                 const float* __restrict c_prev, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) gates[j] = gates[j] + bias[j] + v[j] * c_prev[j];
}

template <typename Activations>
MPSNN_ALWAYS_INLINE void forward_cell_passes(const CellSlice& s, float* gates, const float* c_prev, float* c_new) {
  const std::size_t H = s.c.hidden_size, B = s.rows, j0 = s.j0, j1 = s.j1, n = j1 - j0;
  for (std::size_t r = 0; r < B; ++r) {
    float* gr = gates + r * 4 * H;
    const float* cp = c_prev ? c_prev + r * H : nullptr;
    for (int k = 0; k < 4; ++k) {
      const bool peephole = k < 3 && cp && s.v[k];
      if (s.bias[k] && peephole) {
        add_bias_and_peephole(gr + k * H + j0, s.bias[k] + j0, s.v[k] + j0, cp + j0, n);
        continue;
      }
      if (s.bias[k])
        for (std::size_t j = j0; j < j1; ++j) gr[k * H + j] += s.bias[k][j];
      if (peephole)
        for (std::size_t j = j0; j < j1; ++j) gr[k * H + j] += s.v[k][j] * cp[j];
    }
    for (int k = 0; k < 3; ++k) activate<Activations>(s.c.gate_neuron[k], gr + k * H + j0, n);
    float* cn = c_new + r * H;
    const float *gi = gr, *gf = gr + H, *gc = gr + 2 * H;
    if (cp) {
      for (std::size_t j = j0; j < j1; ++j) cn[j] = gf[j] * cp[j] + gi[j] * gc[j];
    } else {
      for (std::size_t j = j0; j < j1; ++j) cn[j] = gi[j] * gc[j];
    }
  }
}

template <typename Activations>
MPSNN_ALWAYS_INLINE void forward_output_passes(const CellSlice& s, float* gates, const float* c_new, float* h,
                                               std::size_t ld, float* h_copy, std::size_t ld_copy, float* scratch) {
  const std::size_t H = s.c.hidden_size, B = s.rows, j0 = s.j0, j1 = s.j1, n = j1 - j0;
  for (std::size_t r = 0; r < B; ++r) {
    float* go = gates + r * 4 * H + 3 * H;
    const float* cn = c_new + r * H;
    if (s.v[3])
      for (std::size_t j = j0; j < j1; ++j) go[j] += s.v[3][j] * cn[j];
    activate<Activations>(s.c.gate_neuron[3], go + j0, n);
    std::memcpy(scratch, cn + j0, n * sizeof(float));
    activate<Activations>(s.c.cell_output_neuron, scratch, n);
    float* hr = h + r * ld;
    for (std::size_t j = 0; j < n; ++j) hr[j0 + j] = go[j0 + j] * scratch[j];
    if (h_copy) std::memcpy(h_copy + r * ld_copy + j0, hr + j0, n * sizeof(float));
  }
}

template <typename Activations>
MPSNN_ALWAYS_INLINE void backward_output_passes(const CellSlice& s, const float* gates, const float* c_now,
                                                const float* dh, const float* dy, std::size_t ld_dy, float* dc,
                                                float* dgates, float* scratch) {
  const std::size_t H = s.c.hidden_size, B = s.rows, j0 = s.j0, j1 = s.j1, n = j1 - j0;
  float *squashed = scratch, *slope = scratch + n;
  for (std::size_t r = 0; r < B; ++r) {
    const float* gr = gates + r * 4 * H;
    const float* dyr = dy ? dy + r * ld_dy : nullptr;
    const float* dhr = dh + r * H;
    float *dcr = dc + r * H, *dgo = dgates + r * 4 * H + 3 * H;
    evaluate<Activations>(s.c.cell_output_neuron, c_now + r * H + j0, squashed, slope, n);
    float* total = slope + n;  // dh + dy
    if (dyr) {
      for (std::size_t j = j0; j < j1; ++j) total[j - j0] = dhr[j] + dyr[j];
    } else {
      std::memcpy(total, dhr + j0, n * sizeof(float));
    }
    for (std::size_t j = j0; j < j1; ++j) {
      dgo[j] = total[j - j0] * squashed[j - j0];
      dcr[j] += total[j - j0] * gr[3 * H + j] * slope[j - j0];
    }
    scale_by_derivative_from_output(s.c.gate_neuron[3], gr + 3 * H + j0, dgo + j0, n);
    if (s.v[3])
      for (std::size_t j = j0; j < j1; ++j) dcr[j] += dgo[j] * s.v[3][j];
  }
}

MPSNN_ALWAYS_INLINE void backward_gates_passes(const CellSlice& s, const float* gates, const float* c_now,
                                               const float* c_prev, float* dc, float* dgates, float* dv, float* db) {
  const std::size_t H = s.c.hidden_size, B = s.rows, j0 = s.j0, j1 = s.j1, n = j1 - j0;
  for (std::size_t r = 0; r < B; ++r) {
    const float* gr = gates + r * 4 * H;
    const float* cp = c_prev ? c_prev + r * H : nullptr;
    float* dcr = dc + r * H;
    float *dgi = dgates + r * 4 * H, *dgf = dgi + H, *dgc = dgi + 2 * H;
    // Conditions stay outside the loops: a conditional load keeps a loop scalar.
    if (cp) {
      for (std::size_t j = j0; j < j1; ++j) dgf[j] = dcr[j] * cp[j];
    } else {
      std::fill(dgf + j0, dgf + j1, 0.0f);
    }
    gate_gradients(dgi + j0, dgc + j0, dcr + j0, gr + j0, gr + H + j0, gr + 2 * H + j0, n);
    for (int k = 0; k < 3; ++k)
      scale_by_derivative_from_output(s.c.gate_neuron[k], gr + k * H + j0, dgi + k * H + j0, n);
    const float* cr = c_now + r * H;
    if (cp && s.v[0] && s.v[1] && s.v[2]) {
      peephole_gradients(dcr + j0, dv + j0, dv + H + j0, dv + 2 * H + j0, dgi + j0, dgf + j0, dgc + j0, s.v[0] + j0,
                         s.v[1] + j0, s.v[2] + j0, cp + j0, n);
    } else {
      for (int k = 0; k < 3; ++k) {
        if (!s.v[k]) continue;
        for (std::size_t j = j0; j < j1; ++j) dcr[j] += dgi[k * H + j] * s.v[k][j];
        if (cp)
          for (std::size_t j = j0; j < j1; ++j) dv[k * H + j] += dgi[k * H + j] * cp[j];
      }
    }
    if (s.v[3])
      for (std::size_t j = j0; j < j1; ++j) dv[3 * H + j] += dgi[3 * H + j] * cr[j];
    if (db)
      for (int k = 0; k < 4; ++k)
        for (std::size_t j = j0; j < j1; ++j) db[k * H + j] += dgi[k * H + j];
  }
}

// Each pass built once per instruction set (the compiler vectorises them for
// it; x86 with its own sigmoid and tanh) and chosen by kernel_isa(), as
// the GEMM kernels are: MPSNN_CPU_KERNELS runs the narrower builds in the
// tests too (target_clones chose by the CPU alone).
#define MPSNN_CELL_PASSES(isa, target, Activations)                                                              \
  target void forward_cell_##isa(const CellSlice& s, float* gates, const float* c_prev, float* c_new) {          \
    forward_cell_passes<Activations>(s, gates, c_prev, c_new);                                                   \
  }                                                                                                              \
  target void forward_output_##isa(const CellSlice& s, float* gates, const float* c_new, float* h,               \
                                   std::size_t ld, float* h_copy, std::size_t ld_copy, float* scratch) {         \
    forward_output_passes<Activations>(s, gates, c_new, h, ld, h_copy, ld_copy, scratch);                        \
  }                                                                                                              \
  target void backward_output_##isa(const CellSlice& s, const float* gates, const float* c_now, const float* dh, \
                                    const float* dy, std::size_t ld_dy, float* dc, float* dgates,                \
                                    float* scratch) {                                                            \
    backward_output_passes<Activations>(s, gates, c_now, dh, dy, ld_dy, dc, dgates, scratch);                    \
  }                                                                                                              \
  target void backward_gates_##isa(const CellSlice& s, const float* gates, const float* c_now,                   \
                                   const float* c_prev, float* dc, float* dgates, float* dv, float* db) {        \
    backward_gates_passes(s, gates, c_now, c_prev, dc, dgates, dv, db);                                          \
  }

#ifdef MPSNN_X86_KERNELS
MPSNN_CELL_PASSES(avx512, __attribute__((target("avx512f"))), Avx512Activations)
MPSNN_CELL_PASSES(avx2, __attribute__((target("avx2,fma"))), Avx2Activations)
#endif
MPSNN_CELL_PASSES(generic, , PortableActivations)
#undef MPSNN_CELL_PASSES

// Sigmoid gates and a·tanh(b·x) for the candidate and the cell: the LSTM's
// usual activations, which the fused passes below take.
bool default_activations(const detail::LstmConfig& c) {
  return c.gate_neuron[0].type == NeuronType::sigmoid && c.gate_neuron[1].type == NeuronType::sigmoid &&
         c.gate_neuron[2].type == NeuronType::tanh && c.gate_neuron[3].type == NeuronType::sigmoid &&
         c.cell_output_neuron.type == NeuronType::tanh;
}

#ifdef MPSNN_X86_KERNELS
// The forward passes for default_activations, one pass over a row's units, a
// vector of them at a time: every gate loaded and stored once, and the three
// activations of a vector in flight together (hot 16 x 128 slices, Zen 4:
// cell 4.2 -> 2.5, output 2.5 -> 1.5 TSC cycles a unit; AVX2 4.8 -> 4.4 and
// 2.9 -> 2.7; in the step, forwards 1-4% faster). An earlier fused version
// that chose each gate's neuron per vector ran the cell at 4.0.
#define MPSNN_FUSED_FORWARD(isa, features, Act, Ops)                                                                   \
  __attribute__((target(features))) void forward_cell_fused_##isa(const CellSlice& s, float* gates,                    \
                                                               const float* c_prev, float* c_new) {                  \
    using V = Act::V;                                                                                                \
    const std::size_t H = s.c.hidden_size, j0 = s.j0, n = s.j1 - s.j0;                                               \
    const NeuronDescriptor& candidate = s.c.gate_neuron[2];                                                          \
    const V a = Ops::set(candidate.a), a2 = Ops::set(2.0f * candidate.a), b2 = Ops::set(2.0f * candidate.b);         \
    const float* bias[4];                                                                                            \
    const float* v[3];                                                                                               \
    for (int k = 0; k < 4; ++k) bias[k] = s.bias[k] ? s.bias[k] + j0 : nullptr;                                      \
    for (int k = 0; k < 3; ++k) v[k] = c_prev && s.v[k] ? s.v[k] + j0 : nullptr;                                     \
    for (std::size_t r = 0; r < s.rows; ++r) {                                                                       \
      float* g = gates + r * 4 * H + j0;                                                                             \
      const float* cp = c_prev ? c_prev + r * H + j0 : nullptr;                                                      \
      float* cn = c_new + r * H + j0;                                                                                \
      Act::for_vectors(n, [&](std::size_t j, auto load, auto store) __attribute__((always_inline, target(features))) { \
        V x[4];                                                                                                      \
        for (int k = 0; k < 4; ++k) x[k] = bias[k] ? Ops::add(load(g + k * H + j), load(bias[k] + j))               \
                                                   : load(g + k * H + j);                                            \
        const V c = cp ? load(cp + j) : Ops::set(0.0f);                                                              \
        for (int k = 0; k < 3; ++k)                                                                                  \
          if (v[k]) x[k] = Ops::fmadd(load(v[k] + j), c, x[k]);                                                      \
        const V i = Act::sigmoid_of(x[0]), f = Act::sigmoid_of(x[1]), z = Act::tanh_of(x[2], a, a2, b2);             \
        store(g + j, i);                                                                                             \
        store(g + H + j, f);                                                                                         \
        store(g + 2 * H + j, z);                                                                                     \
        store(g + 3 * H + j, x[3]); /* activated by forward_output, once its peephole has the new cell */            \
        store(cn + j, cp ? Ops::fmadd(f, c, Ops::mul(i, z)) : Ops::mul(i, z));                                       \
      });                                                                                                            \
    }                                                                                                                \
  }                                                                                                                  \
  __attribute__((target(features))) void forward_output_fused_##isa(const CellSlice& s, float* gates,                  \
                                                                 const float* c_new, float* h, std::size_t ld,       \
                                                                 float* h_copy, std::size_t ld_copy, float*) {       \
    using V = Act::V;                                                                                                \
    const std::size_t H = s.c.hidden_size, j0 = s.j0, n = s.j1 - s.j0;                                               \
    const NeuronDescriptor& cell = s.c.cell_output_neuron;                                                           \
    const V a = Ops::set(cell.a), a2 = Ops::set(2.0f * cell.a), b2 = Ops::set(2.0f * cell.b);                        \
    const float* v = s.v[3] ? s.v[3] + j0 : nullptr;                                                                 \
    for (std::size_t r = 0; r < s.rows; ++r) {                                                                       \
      float* go = gates + r * 4 * H + 3 * H + j0;                                                                    \
      const float* cn = c_new + r * H + j0;                                                                          \
      float* hr = h + r * ld + j0;                                                                                   \
      float* hc = h_copy ? h_copy + r * ld_copy + j0 : nullptr;                                                      \
      Act::for_vectors(n, [&](std::size_t j, auto load, auto store) __attribute__((always_inline, target(features))) { \
        const V c = load(cn + j);                                                                                    \
        const V o = Act::sigmoid_of(v ? Ops::fmadd(load(v + j), c, load(go + j)) : load(go + j));                    \
        store(go + j, o);                                                                                            \
        const V value = Ops::mul(o, Act::tanh_of(c, a, a2, b2));                                                     \
        store(hr + j, value);                                                                                        \
        if (hc) store(hc + j, value);                                                                                \
      });                                                                                                            \
    }                                                                                                                \
  }

// The backward's two passes the same way (hot 16 x 128 slices, Zen 4: output
// 2.5 -> 1.6, gates with the bias gradients 2.9 -> 1.8 TSC cycles a unit; AVX2
// 3.4 -> 2.75 and 3.1 -> 1.9; in the 128/32/100 step 6.4-7.9k -> 5.2-5.9k and
// 5.9-8.7k -> 5.1-5.7k cycles a step, whole steps within the noise).
#define MPSNN_FUSED_BACKWARD(isa, features, Act, Ops)                                                                  \
  __attribute__((target(features))) void backward_output_fused_##isa(                                                \
      const CellSlice& s, const float* gates, const float* c_now, const float* dh, const float* dy,                  \
      std::size_t ld_dy, float* dc, float* dgates, float*) {                                                         \
    using V = Act::V;                                                                                                \
    const std::size_t H = s.c.hidden_size, j0 = s.j0, n = s.j1 - s.j0;                                               \
    const NeuronDescriptor& cell = s.c.cell_output_neuron;                                                           \
    const V one = Ops::set(1.0f), two = Ops::set(2.0f), b2 = Ops::set(2.0f * cell.b);                                \
    const V a = Ops::set(cell.a), ab = Ops::set(cell.a * cell.b);                                                    \
    const float* v = s.v[3] ? s.v[3] + j0 : nullptr;                                                                 \
    for (std::size_t r = 0; r < s.rows; ++r) {                                                                       \
      const float* go = gates + r * 4 * H + 3 * H + j0;                                                              \
      const float* cr = c_now + r * H + j0;                                                                          \
      const float* dhr = dh + r * H + j0;                                                                            \
      const float* dyr = dy ? dy + r * ld_dy + j0 : nullptr;                                                         \
      float* dcr = dc + r * H + j0;                                                                                  \
      float* dgo = dgates + r * 4 * H + 3 * H + j0;                                                                  \
      Act::for_vectors(n, [&](std::size_t j, auto load, auto store) __attribute__((always_inline, target(features))) { \
        const V t = Act::tanh_of(load(cr + j), one, two, b2); /* tanh(b·c): the cell's a·t and slope a·b(1 - t²) */ \
        const V total = dyr ? Ops::add(load(dhr + j), load(dyr + j)) : load(dhr + j);                                \
        const V o = load(go + j);                                                                                    \
        const V d_o = Ops::mul(Ops::mul(total, Ops::mul(a, t)), Ops::mul(o, Ops::sub(one, o)));                      \
        V d_c = Ops::fmadd(Ops::mul(total, o), Ops::mul(ab, Ops::fnmadd(t, t, one)), load(dcr + j));                 \
        if (v) d_c = Ops::fmadd(d_o, load(v + j), d_c);                                                              \
        store(dgo + j, d_o);                                                                                         \
        store(dcr + j, d_c);                                                                                         \
      });                                                                                                            \
    }                                                                                                                \
  }                                                                                                                  \
  __attribute__((target(features))) void backward_gates_fused_##isa(const CellSlice& s, const float* gates,           \
                                                                   const float* c_now, const float* c_prev,         \
                                                                   float* dc, float* dgates, float* dv, float* db) { \
    using V = Act::V;                                                                                                \
    const std::size_t H = s.c.hidden_size, j0 = s.j0, n = s.j1 - s.j0;                                               \
    const NeuronDescriptor& candidate = s.c.gate_neuron[2];                                                          \
    const V one = Ops::set(1.0f), zero = Ops::set(0.0f);                                                             \
    const V a = Ops::set(candidate.a), b = Ops::set(candidate.b), inverse_a = Ops::set(1.0f / candidate.a);          \
    const float* v[4];                                                                                               \
    for (int k = 0; k < 4; ++k) v[k] = s.v[k] ? s.v[k] + j0 : nullptr;                                               \
    /* A vector of units at a time through every row, so that the peephole and bias gradients' sums stay in */       \
    /* registers, in the same order (the rows' stores of them were most of the peepholes' cost at B = 4). */         \
    /* dvk[k]: where gate k's peephole gradient sums, null where it has none (or reads a zero first cell) */         \
    float* dvk[4];                                                                                                   \
    float* dbk[4];                                                                                                   \
    for (int k = 0; k < 4; ++k) {                                                                                    \
      dvk[k] = v[k] && (k == 3 || c_prev) ? dv + k * H + j0 : nullptr;                                               \
      dbk[k] = db ? db + k * H + j0 : nullptr;                                                                       \
    }                                                                                                                \
    Act::for_vectors(n, [&](std::size_t j, auto load, auto store) __attribute__((always_inline, target(features))) { \
      V dv_sum[4], db_sum[4];                                                                                        \
      for (int k = 0; k < 4; ++k) {                                                                                  \
        if (dvk[k]) dv_sum[k] = load(dvk[k] + j);                                                                    \
        if (db) db_sum[k] = load(dbk[k] + j);                                                                        \
      }                                                                                                              \
      for (std::size_t r = 0; r < s.rows; ++r) {                                                                     \
        const float* g = gates + r * 4 * H + j0;                                                                     \
        const float* cp = c_prev ? c_prev + r * H + j0 : nullptr;                                                    \
        float* dcr = dc + r * H + j0;                                                                                \
        float* dg = dgates + r * 4 * H + j0;                                                                         \
        const V i = load(g + j), f = load(g + H + j), z = load(g + 2 * H + j);                                       \
        const V c = cp ? load(cp + j) : zero;                                                                        \
        const V d_c = load(dcr + j);                                                                                 \
        V d[4];                                                                                                      \
        d[0] = Ops::mul(Ops::mul(d_c, z), Ops::mul(i, Ops::sub(one, i)));                                            \
        d[1] = cp ? Ops::mul(Ops::mul(d_c, c), Ops::mul(f, Ops::sub(one, f))) : zero;                                \
        d[2] = Ops::mul(Ops::mul(d_c, i), Ops::mul(b, Ops::fnmadd(Ops::mul(z, z), inverse_a, a)));                   \
        d[3] = load(dg + 3 * H + j);                                                                                 \
        V d_c_prev = Ops::mul(d_c, f);                                                                               \
        for (int k = 0; k < 3; ++k) {                                                                                \
          store(dg + k * H + j, d[k]);                                                                               \
          if (v[k]) d_c_prev = Ops::fmadd(d[k], load(v[k] + j), d_c_prev);                                           \
          if (dvk[k]) dv_sum[k] = Ops::fmadd(d[k], c, dv_sum[k]);                                                    \
        }                                                                                                            \
        if (dvk[3]) dv_sum[3] = Ops::fmadd(d[3], load(c_now + r * H + j0 + j), dv_sum[3]);                           \
        if (db)                                                                                                      \
          for (int k = 0; k < 4; ++k) db_sum[k] = Ops::add(db_sum[k], d[k]);                                         \
        store(dcr + j, d_c_prev);                                                                                    \
      }                                                                                                              \
      for (int k = 0; k < 4; ++k) {                                                                                  \
        if (dvk[k]) store(dvk[k] + j, dv_sum[k]);                                                                    \
        if (db) store(dbk[k] + j, db_sum[k]);                                                                        \
      }                                                                                                              \
    });                                                                                                              \
  }

MPSNN_FUSED_FORWARD(avx512, "avx512f", Avx512Activations, Avx512Ops)
MPSNN_FUSED_FORWARD(avx2, "avx2,fma", Avx2Activations, Avx2Ops)
MPSNN_FUSED_BACKWARD(avx512, "avx512f", Avx512Activations, Avx512Ops)
MPSNN_FUSED_BACKWARD(avx2, "avx2,fma", Avx2Activations, Avx2Ops)
#undef MPSNN_FUSED_FORWARD
#undef MPSNN_FUSED_BACKWARD
#endif

struct CellPasses {
  decltype(&forward_cell_generic) forward_cell;
  decltype(&forward_output_generic) forward_output;
  decltype(&backward_output_generic) backward_output;
  decltype(&backward_gates_generic) backward_gates;
  // For default_activations, or null.
  decltype(&forward_cell_generic) forward_cell_fused;
  decltype(&forward_output_generic) forward_output_fused;
  decltype(&backward_output_generic) backward_output_fused;
  decltype(&backward_gates_generic) backward_gates_fused;
};

CellPasses choose() {
#ifdef MPSNN_X86_KERNELS
  if (kernel_isa() == KernelIsa::avx512)
    return {forward_cell_avx512,       forward_output_avx512,       backward_output_avx512,
            backward_gates_avx512,     forward_cell_fused_avx512,   forward_output_fused_avx512,
            backward_output_fused_avx512, backward_gates_fused_avx512};
  if (kernel_isa() == KernelIsa::avx2)
    return {forward_cell_avx2,       forward_output_avx2,       backward_output_avx2,
            backward_gates_avx2,     forward_cell_fused_avx2,   forward_output_fused_avx2,
            backward_output_fused_avx2, backward_gates_fused_avx2};
#endif
  return {forward_cell_generic, forward_output_generic, backward_output_generic, backward_gates_generic,
          nullptr,              nullptr,                nullptr,                 nullptr};
}

const CellPasses passes = choose();

}  // namespace

void forward_cell(const CellSlice& s, float* gates, const float* c_prev, float* c_new) {
  if (passes.forward_cell_fused && default_activations(s.c))
    return passes.forward_cell_fused(s, gates, c_prev, c_new);
  passes.forward_cell(s, gates, c_prev, c_new);
}

void forward_output(const CellSlice& s, float* gates, const float* c_new, float* h, std::size_t ld, float* h_copy,
                    std::size_t ld_copy, float* scratch) {
  if (passes.forward_output_fused && default_activations(s.c))
    return passes.forward_output_fused(s, gates, c_new, h, ld, h_copy, ld_copy, scratch);
  passes.forward_output(s, gates, c_new, h, ld, h_copy, ld_copy, scratch);
}

void backward_output(const CellSlice& s, const float* gates, const float* c_now, const float* dh, const float* dy,
                     std::size_t ld_dy, float* dc, float* dgates, float* scratch) {
  if (passes.backward_output_fused && default_activations(s.c))
    return passes.backward_output_fused(s, gates, c_now, dh, dy, ld_dy, dc, dgates, scratch);
  passes.backward_output(s, gates, c_now, dh, dy, ld_dy, dc, dgates, scratch);
}

void backward_gates(const CellSlice& s, const float* gates, const float* c_now, const float* c_prev, float* dc,
                    float* dgates, float* dv, float* db) {
  if (passes.backward_gates_fused && default_activations(s.c))
    return passes.backward_gates_fused(s, gates, c_now, c_prev, dc, dgates, dv, db);
  passes.backward_gates(s, gates, c_now, c_prev, dc, dgates, dv, db);
}

}  // namespace mpsnn::cpu
