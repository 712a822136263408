// The fast CPU LSTM: the input projection of all steps as one GEMM, then per
// step one GEMM and one fused pass; weight gradients as large GEMMs after the
// loop. The reference kernel beside it (lstm_reference.cpp) is its check.
#include <algorithm>
#include <cstring>

#include "core/command_buffer_state.hpp"
#include "cpu/gemm.hpp"
#include "cpu/lstm_common.hpp"
#include "cpu/neuron.hpp"

namespace mpsnn::cpu {

namespace {

using detail::LstmConfig;
enum : std::size_t { slot_gates, slot_cells, slot_out0, slot_out1, slot_input, slot_row, slot_dg, slot_dx,
                     slot_dy, slot_dh, slot_dc, slot_tmp };

// C = A * B^T, C += ... on row-major operands with leading dimensions.
void gemm_nt(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
             const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  sgemm(false, true, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

// The input of layer l as a [T][B][I_l] matrix with row stride `row` between
// batch rows and `step` between steps (contiguous unless layer 0 is NSE).
struct LayerInput {
  const float* data;
  std::size_t step, row;
  bool contiguous;
};

LayerInput layer_input(const LstmConfig& c, std::size_t l, const float* x, const float* below,
                       const std::uint8_t* mask, bool training) {
  const std::size_t width = c.layer_input(l);
  if (l == 0) return {x, c.step_stride(width), c.row_stride(width), !c.batch_first};
  const std::size_t count = c.seq_len * c.batch * width;
  if (!(training && c.uses_dropout(l))) return {below, c.batch * width, width, true};
  float* dropped = scratch(slot_input, count);
  apply_dropout(c, l, below, dropped, const_cast<std::uint8_t*>(mask), false, count);
  return {dropped, c.batch * width, width, true};
}

// G[t][b][:] = X[t][b][:] * W^T for every step.
void project_inputs(const LstmConfig& c, const LayerInput& in, std::size_t width, const float* w, float* g) {
  const std::size_t T = c.seq_len, B = c.batch, G4 = 4 * c.hidden_size;
  if (in.contiguous) {
    gemm_nt(T * B, G4, width, in.data, width, w, width, 0.0f, g, G4);
  } else {
    for (std::size_t b = 0; b < B; ++b) gemm_nt(T, G4, width, in.data + b * in.row, in.step, w, width, 0.0f, g + b * G4, B * G4);
  }
}

void forward_direction(const LstmConfig& c, std::size_t l, std::size_t d, const LayerInput& in,
                       const float* block, const float* h0, const float* c0, float* gates,
                       float* cells, float* out, float* hn, float* cn) {
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, G4 = 4 * H, DH = c.directions * H;
  const std::size_t width = c.layer_input(l);
  const float* w = block;
  const float* u = block + c.u_offset(l);
  const float* bias = block + c.b_offset(l);
  const float* v = c.has_peephole() ? block + c.v_offset(l) : nullptr;
  const bool full = v && !c.peephole_diagonal;
  const NeuronDescriptor* neuron = c.gate_neuron;
  float* squashed = scratch(slot_row, H);

  project_inputs(c, in, width, w, gates);
  for (std::size_t s = 0; s < T; ++s) {
    const std::size_t t = d == 0 ? s : T - 1 - s, previous = d == 0 ? t - 1 : t + 1;
    const float* h_prev = s == 0 ? h0 : out + previous * B * DH + d * H;
    const std::size_t h_ld = s == 0 ? H : DH;
    const float* c_prev = s == 0 ? c0 : cells + previous * B * H;
    float* g = gates + t * B * G4;
    float* c_new = cells + t * B * H;
    if (h_prev) gemm_nt(B, G4, H, h_prev, h_ld, u, H, 1.0f, g, G4);
    if (full && c_prev)
      for (int k = 0; k < 3; ++k)
        if (c.peephole[k]) gemm_nt(B, H, H, c_prev, H, v + k * H * H, H, 1.0f, g + k * H, G4);

    auto input_forget_cell = [&](std::size_t r) {
      float* gr = g + r * G4;
      const float* cp = c_prev ? c_prev + r * H : nullptr;
      for (std::size_t j = 0; j < G4; ++j) gr[j] += bias[j];
      if (v && !full && cp)
        for (int k = 0; k < 3; ++k)
          if (c.peephole[k])
            for (std::size_t j = 0; j < H; ++j) gr[k * H + j] += v[k * H + j] * cp[j];
      for (int k = 0; k < 3; ++k) activate(neuron[k], gr + k * H, H);
      float* cn_row = c_new + r * H;
      const float *gi = gr, *gf = gr + H, *gc = gr + 2 * H;
      if (cp) {
        for (std::size_t j = 0; j < H; ++j) cn_row[j] = gf[j] * cp[j] + gi[j] * gc[j];
      } else {
        for (std::size_t j = 0; j < H; ++j) cn_row[j] = gi[j] * gc[j];
      }
    };
    auto output = [&](std::size_t r) {
      float* go = g + r * G4 + 3 * H;
      const float* cn_row = c_new + r * H;
      if (v && !full && c.peephole[3])
        for (std::size_t j = 0; j < H; ++j) go[j] += v[3 * H + j] * cn_row[j];
      activate(neuron[3], go, H);
      std::memcpy(squashed, cn_row, H * sizeof(float));
      activate(c.cell_output_neuron, squashed, H);
      float* h = out + (t * B + r) * DH + d * H;
      for (std::size_t j = 0; j < H; ++j) h[j] = go[j] * squashed[j];
    };
    if (full && c.peephole[3]) {
      for (std::size_t r = 0; r < B; ++r) input_forget_cell(r);
      gemm_nt(B, H, H, c_new, H, v + 3 * H * H, H, 1.0f, g + 3 * H, G4);
      for (std::size_t r = 0; r < B; ++r) output(r);
    } else {
      for (std::size_t r = 0; r < B; ++r) { input_forget_cell(r); output(r); }
    }
  }
  const std::size_t last = d == 0 ? T - 1 : 0;
  for (std::size_t r = 0; r < B; ++r) {
    if (hn) std::memcpy(hn + r * H, out + (last * B + r) * DH + d * H, H * sizeof(float));
    if (cn) std::memcpy(cn + r * H, cells + (last * B + r) * H, H * sizeof(float));
  }
}


// Gradients of one direction of one layer. dy: [T][B][DH] gradient of the
// layer's output; dx (accumulated when `accumulate_dx`): [T][B][I_l].
void backward_direction(const LstmConfig& c, std::size_t l, std::size_t d, const LayerInput& in,
                        const float* block, const float* h0, const float* c0, const float* gates,
                        const float* cells, const float* out, const float* dy, const float* dhn,
                        const float* dcn, float* dblock, float* dx, bool accumulate_dx, float* dh0,
                        float* dc0) {
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, G4 = 4 * H, DH = c.directions * H;
  const std::size_t width = c.layer_input(l);
  const float* w = block;
  const float* u = block + c.u_offset(l);
  const float* v = c.has_peephole() ? block + c.v_offset(l) : nullptr;
  const bool full = v && !c.peephole_diagonal;
  const NeuronDescriptor* neuron = c.gate_neuron;
  float* dw = dblock;
  float* du = dblock + c.u_offset(l);
  float* db = dblock + c.b_offset(l);
  float* dv = v ? dblock + c.v_offset(l) : nullptr;

  float* dgates = scratch(slot_dg, T * B * G4);
  float* dh = scratch(slot_dh, B * H);   // gradient reaching h of the step being processed
  float* dc = scratch(slot_dc, B * H);   // gradient reaching c of the step being processed
  float* tmp = scratch(slot_tmp, 2 * H);
  if (dhn) std::memcpy(dh, dhn, B * H * sizeof(float)); else std::fill(dh, dh + B * H, 0.0f);
  if (dcn) std::memcpy(dc, dcn, B * H * sizeof(float)); else std::fill(dc, dc + B * H, 0.0f);
  if (dv) std::fill(dv, dv + c.peephole_elements(), 0.0f);

  for (std::size_t s = 0; s < T; ++s) {
    const std::size_t t = d == 0 ? T - 1 - s : s, previous = d == 0 ? t - 1 : t + 1;
    const bool first = s == T - 1;  // the first step the forward processed
    const float* c_prev = first ? c0 : cells + previous * B * H;
    const float* g = gates + t * B * G4;
    const float* c_now = cells + t * B * H;
    float* dg = dgates + t * B * G4;

    for (std::size_t r = 0; r < B; ++r) {  // output gate and the cell's gradient through h
      const float* gr = g + r * G4;
      const float* cr = c_now + r * H;
      const float* dyr = dy ? dy + (t * B + r) * DH + d * H : nullptr;
      float *dhr = dh + r * H, *dcr = dc + r * H, *dgo = dg + r * G4 + 3 * H;
      float *squashed = tmp, *slope = tmp + H;
      evaluate(c.cell_output_neuron, cr, squashed, slope, H);
      for (std::size_t j = 0; j < H; ++j) {
        const float total = dhr[j] + (dyr ? dyr[j] : 0.0f);
        dgo[j] = total * squashed[j];
        dcr[j] += total * gr[3 * H + j] * slope[j];
      }
      scale_by_derivative_from_output(neuron[3], gr + 3 * H, dgo, H);
      if (v && !full && c.peephole[3])
        for (std::size_t j = 0; j < H; ++j) dcr[j] += dgo[j] * v[3 * H + j];
    }
    if (full && c.peephole[3]) sgemm(false, false, B, H, H, 1.0f, dg + 3 * H, G4, v + 3 * H * H, H, 1.0f, dc, H);

    for (std::size_t r = 0; r < B; ++r) {  // input, forget, cell gates; dc moves to the previous step
      const float* gr = g + r * G4;
      const float* cp = c_prev ? c_prev + r * H : nullptr;
      float* dcr = dc + r * H;
      float *dgi = dg + r * G4, *dgf = dgi + H, *dgc = dgi + 2 * H;
      for (std::size_t j = 0; j < H; ++j) {
        dgi[j] = dcr[j] * gr[2 * H + j];
        dgf[j] = cp ? dcr[j] * cp[j] : 0.0f;
        dgc[j] = dcr[j] * gr[j];
        dcr[j] *= gr[H + j];
      }
      for (int k = 0; k < 3; ++k) scale_by_derivative_from_output(neuron[k], gr + k * H, dgi + k * H, H);
      if (v && !full)
        for (int k = 0; k < 3; ++k)
          if (c.peephole[k])
            for (std::size_t j = 0; j < H; ++j) dcr[j] += dgi[k * H + j] * v[k * H + j];
      if (v && !full) {  // diagonal peephole gradients accumulate step by step
        const float* cr = c_now + r * H;
        for (int k = 0; k < 3; ++k)
          if (c.peephole[k] && cp)
            for (std::size_t j = 0; j < H; ++j) dv[k * H + j] += dgi[k * H + j] * cp[j];
        if (c.peephole[3])
          for (std::size_t j = 0; j < H; ++j) dv[3 * H + j] += dgi[3 * H + j] * cr[j];
      }
    }
    if (full)
      for (int k = 0; k < 3; ++k)
        if (c.peephole[k]) sgemm(false, false, B, H, H, 1.0f, dg + k * H, G4, v + k * H * H, H, 1.0f, dc, H);
    sgemm(false, false, B, H, G4, 1.0f, dg, G4, u, H, 0.0f, dh, H);
  }
  if (dh0) std::memcpy(dh0, dh, B * H * sizeof(float));
  if (dc0) std::memcpy(dc0, dc, B * H * sizeof(float));

  // Weight gradients over all steps at once.
  if (in.contiguous) {
    sgemm(true, false, G4, width, T * B, 1.0f, dgates, G4, in.data, width, 0.0f, dw, width);
  } else {
    for (std::size_t b = 0; b < B; ++b)
      sgemm(true, false, G4, width, T, 1.0f, dgates + b * G4, B * G4, in.data + b * in.row, in.step,
            b ? 1.0f : 0.0f, dw, width);
  }
  // U pairs step t's gate gradients with the hidden state before it.
  const std::size_t later = d == 0 ? B * G4 : 0, earlier = d == 0 ? 0 : B * DH;
  const std::size_t first_step = d == 0 ? 0 : T - 1;
  if (T > 1) sgemm(true, false, G4, H, (T - 1) * B, 1.0f, dgates + later, G4, out + earlier + d * H, DH, 0.0f, du, H);
  else std::fill(du, du + G4 * H, 0.0f);
  if (h0) sgemm(true, false, G4, H, B, 1.0f, dgates + first_step * B * G4, G4, h0, H, 1.0f, du, H);
  std::fill(db, db + G4, 0.0f);
  for (std::size_t row = 0; row < T * B; ++row)
    for (std::size_t j = 0; j < G4; ++j) db[j] += dgates[row * G4 + j];
  if (full) {
    const std::size_t later_cells = d == 0 ? B * G4 : 0, earlier_cells = d == 0 ? 0 : B * H;
    for (int k = 0; k < 3; ++k) {
      if (!c.peephole[k]) continue;
      float* dvk = dv + k * H * H;
      if (T > 1) sgemm(true, false, H, H, (T - 1) * B, 1.0f, dgates + later_cells + k * H, G4, cells + earlier_cells, H, 0.0f, dvk, H);
      if (c0) sgemm(true, false, H, H, B, 1.0f, dgates + first_step * B * G4 + k * H, G4, c0, H, 1.0f, dvk, H);
    }
    if (c.peephole[3]) sgemm(true, false, H, H, T * B, 1.0f, dgates + 3 * H, G4, cells, H, 0.0f, dv + 3 * H * H, H);
  }
  if (dx) sgemm(false, false, T * B, width, G4, 1.0f, dgates, G4, w, width, accumulate_dx ? 1.0f : 0.0f, dx, width);
}

}  // namespace

void lstm_forward_fast(const detail::LstmForwardArgs& args) {
  const LstmConfig& c = args.config;
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, DH = c.directions * H;
  const bool training = bool(args.cache);
  const LstmTensors tensors{c, host<float>(args.parameters), host<char>(args.cache)};
  const float* below = nullptr;
  for (std::size_t l = 0; l < c.num_layers; ++l) {
    std::uint8_t* mask = training && c.uses_dropout(l) ? tensors.mask(l) : nullptr;
    if (mask) {  // write the mask of this layer's input once; layer_input applies it
      for (std::size_t k = 0; k < T * B * DH; ++k) mask[k] = dropout_keep(c.seed, l, k, c.dropout);
    }
    const LayerInput in = layer_input(c, l, host<const float>(args.x), below, mask, training);
    float* out = training ? tensors.output(l) : scratch(l % 2 ? slot_out1 : slot_out0, T * B * DH);
    for (std::size_t d = 0; d < c.directions; ++d) {
      float* gates = training ? tensors.gates(l, d) : scratch(slot_gates, T * B * 4 * H);
      float* cells = training ? tensors.cells(l, d) : scratch(slot_cells, T * B * H);
      forward_direction(c, l, d, in, tensors.block(l, d), state(host<float>(args.h0), c, l, d),
                        state(host<float>(args.c0), c, l, d), gates, cells, out,
                        state(host<float>(args.hn), c, l, d), state(host<float>(args.cn), c, l, d));
    }
    below = out;
  }
  scatter_steps(c, below, host<float>(args.y), DH);
}

}  // namespace mpsnn::cpu

namespace mpsnn::cpu {

void lstm_backward_fast(const detail::LstmBackwardArgs& args) {
  const LstmConfig& c = args.config;
  const std::size_t T = c.seq_len, B = c.batch, DH = c.directions * c.hidden_size;
  const LstmTensors tensors{c, host<float>(args.parameters), host<char>(args.cache)};
  float* gradients = host<float>(args.parameter_gradients);
  const float* user_dy = host<const float>(args.dy);
  float* dy = nullptr;
  if (user_dy) {
    dy = scratch(slot_dy, T * B * DH);
    gather_steps(c, user_dy, dy, DH);
  }
  for (std::size_t l = c.num_layers; l-- > 0;) {
    const float* below = l > 0 ? tensors.output(l - 1) : nullptr;
    const std::uint8_t* mask = c.uses_dropout(l) ? tensors.mask(l) : nullptr;
    const LayerInput in = layer_input(c, l, host<const float>(args.x), below, mask, true);
    const std::size_t width = c.layer_input(l);
    float* dx = l > 0 || args.dx ? scratch(slot_dx, T * B * width) : nullptr;
    for (std::size_t d = 0; d < c.directions; ++d)
      backward_direction(c, l, d, in, tensors.block(l, d), state(host<float>(args.h0), c, l, d),
                         state(host<float>(args.c0), c, l, d), tensors.gates(l, d), tensors.cells(l, d),
                         tensors.output(l), dy, state(host<float>(args.dhn), c, l, d),
                         state(host<float>(args.dcn), c, l, d), gradients + c.block_offset(l, d), dx, d > 0,
                         state(host<float>(args.dh0), c, l, d), state(host<float>(args.dc0), c, l, d));
    if (l == 0) {
      if (args.dx) scatter_steps(c, dx, host<float>(args.dx), width);
    } else {
      if (mask) apply_dropout(c, l, dx, dx, const_cast<std::uint8_t*>(mask), false, T * B * width);
      dy = scratch(slot_dy, T * B * width);
      std::memcpy(dy, dx, T * B * width * sizeof(float));
    }
  }
}

void CpuBackend::encode_lstm_forward(detail::CommandBufferState& buffer, const detail::LstmForwardArgs& args) {
  buffer.add_command([args] { args.reference ? lstm_forward_reference(args) : lstm_forward_fast(args); });
}

void CpuBackend::encode_lstm_backward(detail::CommandBufferState& buffer, const detail::LstmBackwardArgs& args) {
  buffer.add_command([args] { args.reference ? lstm_backward_reference(args) : lstm_backward_fast(args); });
}

}  // namespace mpsnn::cpu
