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

// V_gate's row j times the cell state, or 0 without a peephole.
double peephole(const LstmConfig& c, const Gates<const float>& p, int gate, std::size_t j, const double* cell) {
  const float* v = p.v[gate];
  if (!v || !cell) return 0.0;
  if (c.peephole_diagonal) return v[j] * cell[j];
  double sum = 0;
  for (std::size_t k = 0; k < c.hidden_size; ++k) sum += v[j * c.hidden_size + k] * cell[k];
  return sum;
}

}  // namespace

void lstm_forward_reference(const detail::LstmForwardArgs& args) {
  const LstmConfig& c = args.config;
  const std::size_t T = c.seq_len, B = c.batch, H = c.hidden_size, D = c.directions, DH = D * H;
  const bool training = bool(args.cache);
  const LstmCache cache{c, host<char>(args.cache)};
  std::vector<float> local_out[2], local_gates(T * B * 4 * H), local_cells(T * B * H);
  const float* below = nullptr;
  for (std::size_t l = 0; l < c.num_layers; ++l) {
    std::uint8_t* mask = training && c.uses_dropout(l) ? cache.mask(l) : nullptr;
    if (mask) write_dropout_mask(c, l, mask);
    const ReferenceInput input{c, l, host<const float>(args.x), below, mask};
    local_out[l % 2].assign(T * B * DH, 0.f);
    float* out = training ? cache.output(l) : local_out[l % 2].data();
    const std::size_t width = c.layer_input(l);
    for (std::size_t d = 0; d < D; ++d) {
      const Gates<const float> p(args.weights, c, l, d);
      float* gates = training ? cache.gates(l, d) : local_gates.data();
      float* cells = training ? cache.cells(l, d) : local_cells.data();
      const float* h0 = state(host<float>(args.h0), c, l, d);
      const float* c0 = state(host<float>(args.c0), c, l, d);
      std::vector<double> h_prev(B * H), c_prev(B * H), pre(4 * H), c_new(H);
      for (std::size_t k = 0; k < B * H; ++k) {
        h_prev[k] = h0 ? h0[k] : 0.0;
        c_prev[k] = c0 ? c0[k] : 0.0;
      }
      for (std::size_t s = 0; s < T; ++s) {
        const std::size_t t = d == 0 ? s : T - 1 - s;
        for (std::size_t b = 0; b < B; ++b) {
          const double* hp = &h_prev[b * H];
          const double* cp = &c_prev[b * H];
          for (int gate = 0; gate < 4; ++gate)
            for (std::size_t j = 0; j < H; ++j) {
              double sum = p.b[gate] ? p.b[gate][j] : 0.0;
              for (std::size_t k = 0; k < width; ++k) sum += p.w[gate][j * width + k] * input(t, b, k);
              for (std::size_t k = 0; k < H; ++k) sum += p.u[gate][j * H + k] * hp[k];
              if (gate < 3) sum += peephole(c, p, gate, j, cp);
              pre[gate * H + j] = sum;
            }
          float* g = gates + (t * B + b) * 4 * H;
          for (int gate = 0; gate < 3; ++gate)
            for (std::size_t j = 0; j < H; ++j)
              g[gate * H + j] = float(neuron_value(c.gate_neuron[gate], pre[gate * H + j]));
          for (std::size_t j = 0; j < H; ++j)
            c_new[j] = double(g[H + j]) * cp[j] + double(g[j]) * g[2 * H + j];
          for (std::size_t j = 0; j < H; ++j) {
            const double o = neuron_value(c.gate_neuron[3], pre[3 * H + j] + peephole(c, p, 3, j, c_new.data()));
            g[3 * H + j] = float(o);
            out[(t * B + b) * DH + d * H + j] = float(o * neuron_value(c.cell_output_neuron, c_new[j]));
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
  const std::size_t V = c.peephole_diagonal ? H : H * H;  // elements of one gate's V
  const LstmCache cache{c, host<char>(args.cache)};
  std::vector<double> dy(T * B * DH, 0.0);
  if (const float* user_dy = host<const float>(args.dy)) {
    std::vector<float> steps(T * B * DH);
    gather_steps(c, user_dy, steps.data(), DH);
    dy.assign(steps.begin(), steps.end());
  }
  for (std::size_t l = c.num_layers; l-- > 0;) {
    const std::size_t width = c.layer_input(l);
    const std::uint8_t* mask = c.uses_dropout(l) ? cache.mask(l) : nullptr;
    const ReferenceInput input{c, l, host<const float>(args.x), l ? cache.output(l - 1) : nullptr, mask};
    const float* out = cache.output(l);
    std::vector<double> dx(T * B * width, 0.0);
    for (std::size_t d = 0; d < D; ++d) {
      const Gates<const float> p(args.weights, c, l, d);
      const float* gates = cache.gates(l, d);
      const float* cells = cache.cells(l, d);
      const float* h0 = state(host<float>(args.h0), c, l, d);
      const float* c0 = state(host<float>(args.c0), c, l, d);
      const float* dhn = state(host<float>(args.dhn), c, l, d);
      const float* dcn = state(host<float>(args.dcn), c, l, d);
      std::vector<double> dw[4], du[4], db[4], dv[4];
      for (int k = 0; k < 4; ++k) {
        dw[k].assign(H * width, 0.0), du[k].assign(H * H, 0.0), db[k].assign(H, 0.0), dv[k].assign(V, 0.0);
      }
      std::vector<double> dh(B * H), dc(B * H), dpre(4 * H), dh_prev(B * H);
      for (std::size_t k = 0; k < B * H; ++k) {
        dh[k] = dhn ? dhn[k] : 0.0;
        dc[k] = dcn ? dcn[k] : 0.0;
      }
      // d(pre_gate[i])/d(cell[j]) through the peephole, for the cell `dcell` gradient.
      auto peephole_back = [&](int gate, const double* cell, double* dcell) {
        const float* v = p.v[gate];
        if (!v) return;
        for (std::size_t i = 0; i < H; ++i)
          for (std::size_t j = 0; j < H; ++j) {
            if (c.peephole_diagonal && i != j) continue;
            const std::size_t at = c.peephole_diagonal ? i : i * H + j;
            dcell[j] += dpre[gate * H + i] * v[at];
            dv[gate][at] += dpre[gate * H + i] * cell[j];
          }
      };
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
          peephole_back(3, cell.data(), dcb);
          for (std::size_t j = 0; j < H; ++j) {
            dpre[j] = dcb[j] * g[2 * H + j] * neuron_derivative_from_output(c.gate_neuron[0], double(g[j]));
            dpre[H + j] = dcb[j] * cp[j] * neuron_derivative_from_output(c.gate_neuron[1], double(g[H + j]));
            dpre[2 * H + j] = dcb[j] * g[j] * neuron_derivative_from_output(c.gate_neuron[2], double(g[2 * H + j]));
            dcb[j] *= g[H + j];
          }
          for (int gate = 0; gate < 3; ++gate) peephole_back(gate, cp.data(), dcb);
          for (int gate = 0; gate < 4; ++gate)
            for (std::size_t i = 0; i < H; ++i) {
              const double dp = dpre[gate * H + i];
              db[gate][i] += dp;
              for (std::size_t k = 0; k < width; ++k) {
                dw[gate][i * width + k] += dp * input(t, b, k);
                dx[(t * B + b) * width + k] += dp * p.w[gate][i * width + k];
              }
              for (std::size_t k = 0; k < H; ++k) {
                du[gate][i * H + k] += dp * hp[k];
                dh_prev[b * H + k] += dp * p.u[gate][i * H + k];
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
      const Gates<float> grads(args.gradients, c, l, d);
      auto store = [](float* target, const std::vector<double>& values) {
        if (target)
          for (std::size_t k = 0; k < values.size(); ++k) target[k] = float(values[k]);
      };
      for (int k = 0; k < 4; ++k) {
        store(grads.w[k], dw[k]), store(grads.u[k], du[k]), store(grads.b[k], db[k]);
        if (p.v[k]) store(grads.v[k], dv[k]);
      }
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
