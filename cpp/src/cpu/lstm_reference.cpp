// The plain CPU LSTM: the formula of docs/lstm-layout.md element by element,
// accumulated in double. It writes and reads the same training cache as the
// fast kernel, which the tests check against it.
#include <vector>

#include "cpu/lstm_common.hpp"
#include "cpu/neuron.hpp"

namespace mpsnn::cpu {

namespace {

using detail::LstmConfig;

// Layer l's input at (t, b, k), dropout applied in training.
struct ReferenceInput {
  const LstmConfig& c;
  std::size_t l;
  const float* x;
  const float* below;
  const std::uint8_t* mask;
  double operator()(std::size_t t, std::size_t b, std::size_t k) const {
    const std::size_t width = c.layer_input(l);
    if (l == 0) return x[t * c.step_stride(width) + b * c.row_stride(width) + k];
    const std::size_t index = (t * c.batch + b) * width + k;
    if (!mask) return below[index];
    return mask[index] ? below[index] / (1.0 - c.dropout) : 0.0;
  }
};

double peephole(const LstmConfig& c, const float* v, int gate, std::size_t j, const double* cell) {
  if (!v || !c.peephole[gate] || !cell) return 0.0;
  const std::size_t H = c.hidden_size;
  if (c.peephole_diagonal) return v[gate * H + j] * cell[j];
  double sum = 0;
  for (std::size_t k = 0; k < H; ++k) sum += v[(gate * H + j) * H + k] * cell[k];
  return sum;
}

}  // namespace

void lstm_forward_reference(const detail::LstmForwardArgs& args) {
  const LstmConfig& c = args.config;
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, D = c.directions, DH = D * H;
  const bool training = bool(args.cache);
  const LstmTensors tensors{c, host<float>(args.parameters), host<char>(args.cache)};
  std::vector<float> local_out[2], local_gates(T * B * 4 * H), local_cells(T * B * H);
  const float* below = nullptr;
  for (std::size_t l = 0; l < c.num_layers; ++l) {
    std::uint8_t* mask = training && c.uses_dropout(l) ? tensors.mask(l) : nullptr;
    if (mask)
      for (std::size_t k = 0; k < T * B * DH; ++k) mask[k] = dropout_keep(c.seed, l, k, c.dropout);
    const ReferenceInput input{c, l, host<const float>(args.x), below, mask};
    local_out[l % 2].assign(T * B * DH, 0.f);
    float* out = training ? tensors.output(l) : local_out[l % 2].data();
    for (std::size_t d = 0; d < D; ++d) {
      const float* block = tensors.block(l, d);
      const float *w = block, *u = block + c.u_offset(l), *bias = block + c.b_offset(l);
      const float* v = c.has_peephole() ? block + c.v_offset(l) : nullptr;
      float* gates = training ? tensors.gates(l, d) : local_gates.data();
      float* cells = training ? tensors.cells(l, d) : local_cells.data();
      const float* h0 = state(host<float>(args.h0), c, l, d);
      const float* c0 = state(host<float>(args.c0), c, l, d);
      std::vector<double> h_prev(B * H), c_prev(B * H), pre(4 * H), c_new(H);
      for (std::size_t k = 0; k < B * H; ++k) {
        h_prev[k] = h0 ? h0[k] : 0.0;
        c_prev[k] = c0 ? c0[k] : 0.0;
      }
      const std::size_t width = c.layer_input(l);
      for (std::size_t s = 0; s < T; ++s) {
        const std::size_t t = d == 0 ? s : T - 1 - s;
        for (std::size_t b = 0; b < B; ++b) {
          const double* hp = &h_prev[b * H];
          const double* cp = &c_prev[b * H];
          for (std::size_t row = 0; row < 4 * H; ++row) {
            double sum = bias[row];
            for (std::size_t k = 0; k < width; ++k) sum += w[row * width + k] * input(t, b, k);
            for (std::size_t k = 0; k < H; ++k) sum += u[row * H + k] * hp[k];
            const int gate = int(row / H);
            if (gate < 3) sum += peephole(c, v, gate, row % H, cp);
            pre[row] = sum;
          }
          float* g = gates + (t * B + b) * 4 * H;
          for (int gate = 0; gate < 3; ++gate)
            for (std::size_t j = 0; j < H; ++j)
              g[gate * H + j] = float(neuron_value(c.gate_neuron[gate], pre[gate * H + j]));
          for (std::size_t j = 0; j < H; ++j)
            c_new[j] = double(g[H + j]) * cp[j] + double(g[j]) * g[2 * H + j];
          for (std::size_t j = 0; j < H; ++j) {
            const double o = neuron_value(c.gate_neuron[3], pre[3 * H + j] + peephole(c, v, 3, j, c_new.data()));
            g[3 * H + j] = float(o);
            const double h = o * neuron_value(c.cell_output_neuron, c_new[j]);
            out[(t * B + b) * DH + d * H + j] = float(h);
            cells[(t * B + b) * H + j] = float(c_new[j]);
          }
        }
        for (std::size_t b = 0; b < B; ++b)
          for (std::size_t j = 0; j < H; ++j) {
            h_prev[b * H + j] = out[(t * B + b) * DH + d * H + j];
            c_prev[b * H + j] = cells[(t * B + b) * H + j];
          }
      }
      float* hn = state(host<float>(args.hn), c, l, d);
      float* cn = state(host<float>(args.cn), c, l, d);
      for (std::size_t k = 0; k < B * H; ++k) {
        if (hn) hn[k] = float(h_prev[k]);
        if (cn) cn[k] = float(c_prev[k]);
      }
    }
    below = out;
  }
  scatter_steps(c, below, host<float>(args.y), DH);
}

void lstm_backward_reference(const detail::LstmBackwardArgs& args) {
  const LstmConfig& c = args.config;
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, D = c.directions, DH = D * H;
  const LstmTensors tensors{c, host<float>(args.parameters), host<char>(args.cache)};
  float* gradients = host<float>(args.parameter_gradients);
  std::vector<double> dy(T * B * DH, 0.0);
  if (const float* user_dy = host<const float>(args.dy)) {
    std::vector<float> steps(T * B * DH);
    gather_steps(c, user_dy, steps.data(), DH);
    dy.assign(steps.begin(), steps.end());
  }
  for (std::size_t l = c.num_layers; l-- > 0;) {
    const std::size_t width = c.layer_input(l);
    const std::uint8_t* mask = c.uses_dropout(l) ? tensors.mask(l) : nullptr;
    const ReferenceInput input{c, l, host<const float>(args.x), l ? tensors.output(l - 1) : nullptr, mask};
    const float* out = tensors.output(l);
    std::vector<double> dx(T * B * width, 0.0);
    for (std::size_t d = 0; d < D; ++d) {
      const float* block = tensors.block(l, d);
      const float *w = block, *u = block + c.u_offset(l);
      const float* v = c.has_peephole() ? block + c.v_offset(l) : nullptr;
      const float* gates = tensors.gates(l, d);
      const float* cells = tensors.cells(l, d);
      const float* h0 = state(host<float>(args.h0), c, l, d);
      const float* c0 = state(host<float>(args.c0), c, l, d);
      const float* dhn = state(host<float>(args.dhn), c, l, d);
      const float* dcn = state(host<float>(args.dcn), c, l, d);
      std::vector<double> grad(c.block_elements(l), 0.0), dh(B * H), dc(B * H), dpre(4 * H), dh_prev(B * H);
      for (std::size_t k = 0; k < B * H; ++k) {
        dh[k] = dhn ? dhn[k] : 0.0;
        dc[k] = dcn ? dcn[k] : 0.0;
      }
      double *dw = grad.data(), *du = dw + c.u_offset(l), *db = dw + c.b_offset(l);
      double* dv = v ? dw + c.v_offset(l) : nullptr;
      for (std::size_t s = 0; s < T; ++s) {
        const std::size_t t = d == 0 ? T - 1 - s : s, previous = d == 0 ? t - 1 : t + 1;
        const bool first = s == T - 1;
        std::fill(dh_prev.begin(), dh_prev.end(), 0.0);
        for (std::size_t b = 0; b < B; ++b) {
          const float* g = gates + (t * B + b) * 4 * H;
          const float* cn = cells + (t * B + b) * H;
          std::vector<double> cp(H), hp(H), cell(cn, cn + H);
          for (std::size_t j = 0; j < H; ++j) {
            cp[j] = first ? (c0 ? c0[b * H + j] : 0.0) : cells[(previous * B + b) * H + j];
            hp[j] = first ? (h0 ? h0[b * H + j] : 0.0) : out[(previous * B + b) * DH + d * H + j];
          }
          double* dcb = &dc[b * H];
          for (std::size_t j = 0; j < H; ++j) {
            const double total = dh[b * H + j] + dy[(t * B + b) * DH + d * H + j];
            const double squashed = neuron_value(c.cell_output_neuron, cell[j]);
            dpre[3 * H + j] = total * squashed * neuron_derivative_from_output(c.gate_neuron[3], double(g[3 * H + j]));
            dcb[j] += total * g[3 * H + j] * neuron_derivative(c.cell_output_neuron, cell[j]);
          }
          if (v && c.peephole[3])
            for (std::size_t i = 0; i < H; ++i)
              for (std::size_t j = 0; j < H; ++j) {
                if (c.peephole_diagonal && i != j) continue;
                const double vij = c.peephole_diagonal ? v[3 * H + i] : v[(3 * H + i) * H + j];
                dcb[j] += dpre[3 * H + i] * vij;
                dv[c.peephole_diagonal ? 3 * H + i : (3 * H + i) * H + j] += dpre[3 * H + i] * cell[j];
              }
          for (std::size_t j = 0; j < H; ++j) {
            dpre[j] = dcb[j] * g[2 * H + j] * neuron_derivative_from_output(c.gate_neuron[0], double(g[j]));
            dpre[H + j] = dcb[j] * cp[j] * neuron_derivative_from_output(c.gate_neuron[1], double(g[H + j]));
            dpre[2 * H + j] = dcb[j] * g[j] * neuron_derivative_from_output(c.gate_neuron[2], double(g[2 * H + j]));
            dcb[j] *= g[H + j];
          }
          for (int gate = 0; gate < 3 && v; ++gate) {
            if (!c.peephole[gate]) continue;
            for (std::size_t i = 0; i < H; ++i)
              for (std::size_t j = 0; j < H; ++j) {
                if (c.peephole_diagonal && i != j) continue;
                const std::size_t at = c.peephole_diagonal ? gate * H + i : (gate * H + i) * H + j;
                dcb[j] += dpre[gate * H + i] * v[at];
                dv[at] += dpre[gate * H + i] * cp[j];
              }
          }
          for (std::size_t row = 0; row < 4 * H; ++row) {
            db[row] += dpre[row];
            for (std::size_t k = 0; k < width; ++k) {
              dw[row * width + k] += dpre[row] * input(t, b, k);
              dx[(t * B + b) * width + k] += dpre[row] * w[row * width + k];
            }
            for (std::size_t k = 0; k < H; ++k) {
              du[row * H + k] += dpre[row] * hp[k];
              dh_prev[b * H + k] += dpre[row] * u[row * H + k];
            }
          }
        }
        dh = dh_prev;
      }
      float* dh0 = state(host<float>(args.dh0), c, l, d);
      float* dc0 = state(host<float>(args.dc0), c, l, d);
      for (std::size_t k = 0; k < B * H; ++k) {
        if (dh0) dh0[k] = float(dh[k]);
        if (dc0) dc0[k] = float(dc[k]);
      }
      float* out_grad = gradients + c.block_offset(l, d);
      for (std::size_t k = 0; k < grad.size(); ++k) out_grad[k] = float(grad[k]);
    }
    if (l == 0) {
      if (float* user_dx = host<float>(args.dx)) {
        std::vector<float> steps(dx.begin(), dx.end());
        scatter_steps(c, steps.data(), user_dx, width);
      }
    } else {
      for (std::size_t k = 0; k < dx.size(); ++k)
        if (mask) dx[k] = mask[k] ? dx[k] / (1.0 - c.dropout) : 0.0;
      dy = dx;
    }
  }
}

}  // namespace mpsnn::cpu
