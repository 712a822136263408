// The fast CPU LSTM. The input projection of all steps is one GEMM; then each
// thread owns a slice of hidden units and, per step, runs the recurrent GEMM
// for its slice's gate columns and the fused element-wise pass for its units,
// so a step costs one barrier. Weight gradients are large GEMMs after the loop.
// The reference kernel beside it (lstm_reference.cpp) is its check.
#include <algorithm>
#include <cstring>

#include "core/command_buffer_state.hpp"
#include "cpu/gemm.hpp"
#include "cpu/lstm_cell.hpp"
#include "cpu/lstm_common.hpp"
#include "cpu/small_gemm.hpp"
#include "cpu/thread_pool.hpp"

namespace mpsnn::cpu {

namespace {

using detail::LstmConfig;
enum : std::size_t { slot_gates, slot_cells, slot_out0, slot_out1, slot_input, slot_row, slot_dg, slot_dx0,
                     slot_dx1, slot_dy, slot_dh, slot_dc, slot_packed };

// The input of layer l as [T][B][I_l]: `step` elements between steps, `row`
// between batch rows (contiguous unless layer 0 is NSE).
struct LayerInput {
  const float* data;
  std::size_t step, row;
  bool contiguous;
};

LayerInput layer_input(const LstmConfig& c, std::size_t l, const float* x, const float* below,
                       const std::uint8_t* mask) {
  const std::size_t width = c.layer_input(l);
  if (l == 0) return {x, c.step_stride(width), c.row_stride(width), !c.batch_first};
  if (!mask) return {below, c.batch * width, width, true};
  const std::size_t count = c.seq_len * c.batch * width;
  float* dropped = scratch(slot_input, count);
  apply_dropout(c, l, below, dropped, const_cast<std::uint8_t*>(mask), false, count);
  return {dropped, c.batch * width, width, true};
}

// Threads for a recurrence over H units: at least 8 units each.
int recurrence_threads(std::size_t hidden) {
  return int(std::max<std::size_t>(1, std::min<std::size_t>(threads(), hidden / 8)));
}

// The parameters of one (layer, direction) block.
struct Block {
  const float *w, *u, *bias, *v;
  bool full;  // full (not diagonal) peepholes
  Block(const LstmConfig& c, std::size_t l, const float* block)
      : w(block), u(block + c.u_offset(l)), bias(block + c.b_offset(l)),
        v(c.has_peephole() ? block + c.v_offset(l) : nullptr), full(v && !c.peephole_diagonal) {}
};

void forward_direction(const LstmConfig& c, std::size_t l, std::size_t d, const LayerInput& in,
                       const float* parameters, const float* h0, const float* c0, float* gates,
                       float* cells, float* out, float* hn, float* cn) {
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, G4 = 4 * H, DH = c.directions * H;
  const std::size_t width = c.layer_input(l);
  const Block p(c, l, parameters);
  if (in.contiguous) {
    sgemm_parallel(false, true, T * B, G4, width, 1.0f, in.data, width, p.w, width, 0.0f, gates, G4);
  } else {
    for (std::size_t b = 0; b < B; ++b)
      sgemm_parallel(false, true, T, G4, width, 1.0f, in.data + b * in.row, in.step, p.w, width, 0.0f,
                     gates + b * G4, B * G4);
  }
  const int parts = recurrence_threads(H);
  SpinBarrier barrier(parts);
  parallel_for(parts, [&](int part) {
    std::size_t j0, j1;
    split(H, parts, part, 8, j0, j1);
    const std::size_t n = j1 - j0;
    float* squashed = scratch(slot_row, H);
    const CellSlice slice{c, j0, j1, p.bias, p.full ? nullptr : p.v};
    // This slice's rows of U, packed once for all steps.
    const std::size_t panel = packed_panel_size(H, n);
    float* packed_u = scratch(slot_packed, 4 * panel);
    for (int k = 0; k < 4 && n; ++k) pack_panels(p.u + (k * H + j0) * H, H, true, H, n, packed_u + k * panel);
    for (std::size_t s = 0; s < T; ++s) {
      const std::size_t t = d == 0 ? s : T - 1 - s, previous = d == 0 ? t - 1 : t + 1;
      const float* h_prev = s == 0 ? h0 : out + previous * B * DH + d * H;
      const std::size_t h_ld = s == 0 ? H : DH;
      const float* c_prev = s == 0 ? c0 : cells + previous * B * H;
      float* g = gates + t * B * G4;
      float* c_new = cells + t * B * H;
      if (n) {
        for (int k = 0; k < 4; ++k) {
          if (h_prev) small_gemm(B, H, h_prev, h_ld, packed_u + k * panel, n, g + k * H + j0, G4, true);
          if (p.full && c_prev && k < 3 && c.peephole[k])
            sgemm(false, true, B, n, H, 1.0f, c_prev, H, p.v + (k * H + j0) * H, H, 1.0f, g + k * H + j0, G4);
        }
      }
      if (n) forward_cell(slice, g, c_prev, c_new);
      if (p.full && c.peephole[3]) {  // the output gate's peephole reads every unit's new cell
        barrier.wait();
        if (n) sgemm(false, true, B, n, H, 1.0f, c_new, H, p.v + (3 * H + j0) * H, H, 1.0f, g + 3 * H + j0, G4);
      }
      if (n) forward_output(slice, g, c_new, out + t * B * DH + d * H, DH, squashed);
      barrier.wait();  // the next step's GEMM reads every unit's h
    }
  });
  const std::size_t last = d == 0 ? T - 1 : 0;
  for (std::size_t r = 0; r < B; ++r) {
    if (hn) std::memcpy(hn + r * H, out + (last * B + r) * DH + d * H, H * sizeof(float));
    if (cn) std::memcpy(cn + r * H, cells + (last * B + r) * H, H * sizeof(float));
  }
}

// Gradients of one direction of one layer. dy: [T][B][DH], the gradient of
// the layer's output; dx (accumulated when `accumulate_dx`): [T][B][I_l].
void backward_direction(const LstmConfig& c, std::size_t l, std::size_t d, const LayerInput& in,
                        const float* parameters, const float* h0, const float* c0, const float* gates,
                        const float* cells, const float* out, const float* dy, const float* dhn,
                        const float* dcn, float* dparameters, float* dx, bool accumulate_dx, float* dh0,
                        float* dc0) {
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, G4 = 4 * H, DH = c.directions * H;
  const std::size_t width = c.layer_input(l);
  const Block p(c, l, parameters);
  float* dw = dparameters;
  float* du = dparameters + c.u_offset(l);
  float* db = dparameters + c.b_offset(l);
  float* dv = p.v ? dparameters + c.v_offset(l) : nullptr;
  float* dgates = scratch(slot_dg, T * B * G4);
  float* dh = scratch(slot_dh, B * H);  // gradient reaching h of the step being processed
  float* dc = scratch(slot_dc, B * H);  // gradient reaching c of the step being processed
  if (dv) std::fill(dv, dv + c.peephole_elements(), 0.0f);

  const int parts = recurrence_threads(H);
  SpinBarrier barrier(parts);
  parallel_for(parts, [&](int part) {
    std::size_t j0, j1;
    split(H, parts, part, 8, j0, j1);
    const std::size_t n = j1 - j0;
    float* squashed = scratch(slot_row, 3 * H);
    const CellSlice slice{c, j0, j1, p.bias, p.full ? nullptr : p.v};
    // This slice's columns of U (all 4H rows), packed once for all steps.
    float* packed_u = scratch(slot_packed, packed_panel_size(G4, n));
    if (n) pack_panels(p.u + j0, H, false, G4, n, packed_u);
    for (std::size_t r = 0; r < B; ++r)
      for (std::size_t j = j0; j < j1; ++j) {
        dh[r * H + j] = dhn ? dhn[r * H + j] : 0.0f;
        dc[r * H + j] = dcn ? dcn[r * H + j] : 0.0f;
      }
    for (std::size_t s = 0; s < T; ++s) {
      const std::size_t t = d == 0 ? T - 1 - s : s, previous = d == 0 ? t - 1 : t + 1;
      const float* c_prev = s == T - 1 ? c0 : cells + previous * B * H;
      const float* g = gates + t * B * G4;
      const float* c_now = cells + t * B * H;
      float* dg = dgates + t * B * G4;
      if (n) backward_output(slice, g, c_now, dh, dy ? dy + t * B * DH + d * H : nullptr, DH, dc, dg, squashed);
      if (p.full && c.peephole[3]) {  // every unit's output gate reaches this slice's cells
        barrier.wait();
        if (n) sgemm(false, false, B, n, H, 1.0f, dg + 3 * H, G4, p.v + 3 * H * H + j0, H, 1.0f, dc + j0, H);
      }
      if (n) backward_gates(slice, g, c_now, c_prev, dc, dg, dv);
      barrier.wait();  // the GEMMs below read every unit's gate gradients
      if (!n) continue;
      if (p.full)
        for (int k = 0; k < 3; ++k)
          if (c.peephole[k]) sgemm(false, false, B, n, H, 1.0f, dg + k * H, G4, p.v + k * H * H + j0, H, 1.0f, dc + j0, H);
      small_gemm(B, G4, dg, G4, packed_u, n, dh + j0, H, false);
    }
  });
  if (dh0) std::memcpy(dh0, dh, B * H * sizeof(float));
  if (dc0) std::memcpy(dc0, dc, B * H * sizeof(float));

  // Weight gradients over all steps at once.
  if (in.contiguous) {
    sgemm_parallel(true, false, G4, width, T * B, 1.0f, dgates, G4, in.data, width, 0.0f, dw, width);
  } else {
    for (std::size_t b = 0; b < B; ++b)
      sgemm_parallel(true, false, G4, width, T, 1.0f, dgates + b * G4, B * G4, in.data + b * in.row, in.step,
                     b ? 1.0f : 0.0f, dw, width);
  }
  // U (and V) pair step t's gate gradients with the state before it: for the
  // forward direction steps 1.. with states 0.., for the backward one the reverse.
  const std::size_t later = d == 0 ? 1 : 0, earlier = d == 0 ? 0 : 1, first = d == 0 ? 0 : T - 1;
  if (T > 1)
    sgemm_parallel(true, false, G4, H, (T - 1) * B, 1.0f, dgates + later * B * G4, G4, out + earlier * B * DH + d * H,
                   DH, 0.0f, du, H);
  else
    std::fill(du, du + G4 * H, 0.0f);
  if (h0) sgemm_parallel(true, false, G4, H, B, 1.0f, dgates + first * B * G4, G4, h0, H, 1.0f, du, H);
  if (p.full) {
    for (int k = 0; k < 3; ++k) {
      if (!c.peephole[k]) continue;
      float* dvk = dv + k * H * H;
      if (T > 1)
        sgemm_parallel(true, false, H, H, (T - 1) * B, 1.0f, dgates + later * B * G4 + k * H, G4,
                       cells + earlier * B * H, H, 0.0f, dvk, H);
      if (c0) sgemm_parallel(true, false, H, H, B, 1.0f, dgates + first * B * G4 + k * H, G4, c0, H, 1.0f, dvk, H);
    }
    if (c.peephole[3])
      sgemm_parallel(true, false, H, H, T * B, 1.0f, dgates + 3 * H, G4, cells, H, 0.0f, dv + 3 * H * H, H);
  }
  parallel_for(threads(), [&](int part) {
    std::size_t j0, j1;
    split(G4, threads(), part, 16, j0, j1);
    std::fill(db + j0, db + j1, 0.0f);
    for (std::size_t row = 0; row < T * B; ++row)
      for (std::size_t j = j0; j < j1; ++j) db[j] += dgates[row * G4 + j];
  });
  if (dx)
    sgemm_parallel(false, false, T * B, width, G4, 1.0f, dgates, G4, p.w, width, accumulate_dx ? 1.0f : 0.0f, dx,
                   width);
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
    if (mask)
      for (std::size_t k = 0; k < T * B * DH; ++k) mask[k] = dropout_keep(c.seed, l, k, c.dropout);
    const LayerInput in = layer_input(c, l, host<const float>(args.x), below, mask);
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

void lstm_backward_fast(const detail::LstmBackwardArgs& args) {
  const LstmConfig& c = args.config;
  const std::size_t T = c.seq_len, B = c.batch, DH = c.directions * c.hidden_size;
  const LstmTensors tensors{c, host<float>(args.parameters), host<char>(args.cache)};
  float* gradients = host<float>(args.parameter_gradients);
  float* dy = nullptr;
  if (const float* user_dy = host<const float>(args.dy)) {
    dy = scratch(slot_dy, T * B * DH);
    gather_steps(c, user_dy, dy, DH);
  }
  for (std::size_t l = c.num_layers; l-- > 0;) {
    const std::uint8_t* mask = c.uses_dropout(l) ? tensors.mask(l) : nullptr;
    const LayerInput in = layer_input(c, l, host<const float>(args.x), l ? tensors.output(l - 1) : nullptr, mask);
    const std::size_t width = c.layer_input(l);
    // Ping-pong: this layer's input gradient becomes the output gradient of the layer below.
    float* dx = l > 0 || args.dx ? scratch(l % 2 ? slot_dx1 : slot_dx0, T * B * width) : nullptr;
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
      dy = dx;
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
