"""A float64 NumPy LSTM (forward and backpropagation through time) and a
builder of random BNNS problems, for the tests. Independent of the library:
derivatives come from pre-activations, where the kernels use outputs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mpsnn import bnns

AF = bnns.ActivationFunction


def activation(kind, x, alpha=0.0, beta=0.0):
    """(value, derivative) of a BNNS activation at x, in float64."""
    if kind == AF.identity:
        return x, np.ones_like(x)
    if kind in (AF.rectified_linear, AF.leaky_rectified_linear):
        slope = 0.0 if kind == AF.rectified_linear else alpha
        return np.where(x >= 0, x, slope * x), np.where(x >= 0, 1.0, slope)
    if kind == AF.sigmoid:
        s = 1 / (1 + np.exp(-x))
        return s, s * (1 - s)
    if kind in (AF.tanh, AF.scaled_tanh):
        a, b = (1.0, 1.0) if kind == AF.tanh else (alpha, beta)
        t = np.tanh(b * x)
        return a * t, a * b * (1 - t * t)
    if kind in (AF.linear, AF.linear_with_bias):
        return alpha * x + (beta if kind == AF.linear_with_bias else 0.0), np.full_like(x, alpha)
    if kind == AF.hard_sigmoid:
        v = alpha * x + beta
        return np.clip(v, 0, 1), np.where((v > 0) & (v < 1), alpha, 0.0)
    if kind == AF.softplus:
        return alpha * np.log1p(np.exp(beta * x)), alpha * beta / (1 + np.exp(-beta * x))
    if kind == AF.softsign:
        return x / (1 + np.abs(x)), 1 / (1 + np.abs(x)) ** 2
    if kind == AF.elu:
        return np.where(x >= 0, x, alpha * (np.exp(x) - 1)), np.where(x >= 0, 1.0, alpha * np.exp(x))
    if kind == AF.relu6:
        return np.clip(x, 0, 6), np.where((x >= 0) & (x < 6), 1.0, 0.0)
    if kind == AF.abs:
        return np.abs(x), np.sign(x)
    raise ValueError(kind)


GATES = ("input_gate", "forget_gate", "candidate_gate", "output_gate")
DEFAULT_ACTIVATIONS = (bnns.Activation(AF.sigmoid), bnns.Activation(AF.sigmoid),
                       bnns.Activation(AF.tanh), bnns.Activation(AF.sigmoid))


@dataclass
class Problem:
    """Random weights and data for one LSTM configuration (float32 values)."""

    input_size: int = 5
    hidden_size: int = 4
    batch: int = 3
    seq_len: int = 6
    num_layers: int = 1
    bidirectional: bool = False
    peephole: str = "none"          # none, diagonal, full
    peephole_gates: tuple = (0, 1, 2, 3)
    activations: tuple = DEFAULT_ACTIVATIONS
    hidden_activation: bnns.Activation = field(default_factory=lambda: bnns.Activation(AF.tanh))
    dropout: float = 0.0
    seed: int = 0
    initial_states: bool = True
    batch_first: bool = False
    scale: float = 0.5

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        L, D, H, I = self.num_layers, self.directions, self.hidden_size, self.input_size
        f32 = lambda *shape: (rng.standard_normal(shape) * self.scale).astype(np.float32)  # noqa: E731
        # weights[l][d][gate] = dict(W, U, b, V)
        self.weights = [[[dict(W=f32(H, self.layer_input(l)), U=f32(H, H), b=f32(H),
                               V=(f32(H) if self.peephole == "diagonal" else f32(H, H))
                               if self.peephole != "none" and k in self.peephole_gates else None)
                          for k in range(4)] for _ in range(D)] for l in range(L)]
        T, B = self.seq_len, self.batch
        self.x = f32(B, T, I) if self.batch_first else f32(T, B, I)
        self.h0 = f32(L * D, B, H) if self.initial_states else None
        self.c0 = f32(L * D, B, H) if self.initial_states else None
        self.dy = f32(*self.sequence_shape(D * H))
        self.dhn = f32(L * D, B, H)
        self.dcn = f32(L * D, B, H)

    @property
    def directions(self):
        return 2 if self.bidirectional else 1

    def layer_input(self, l):
        return self.input_size if l == 0 else self.directions * self.hidden_size

    def sequence_shape(self, width):
        return (self.batch, self.seq_len, width) if self.batch_first else (self.seq_len, self.batch, width)

    # ---- BNNS descriptors -------------------------------------------------
    def gate_arrays(self, k, source=None):
        """Apple's arrays for gate k from `source` (default: the weights)."""
        source = source or self.weights
        L, D = self.num_layers, self.directions
        stack = lambda key, layers: np.ascontiguousarray(np.stack(  # noqa: E731
            [np.stack([source[l][d][k][key] for d in range(D)]) for l in layers]))
        all_same = L == 1 or self.layer_input(1) == self.input_size
        iw = (stack("W", range(L)), None) if all_same else (stack("W", [0]), stack("W", range(1, L)))
        has_v = self.peephole != "none" and k in self.peephole_gates
        return dict(iw_desc=iw, hw_desc=stack("U", range(L)), b_desc=stack("b", range(L)),
                    cw_desc=stack("V", range(L)) if has_v else None)

    def layer_params(self, y=None, hn=None, cn=None, flags=0):
        D, H = self.directions, self.hidden_size
        y = np.full(self.sequence_shape(D * H), np.nan, np.float32) if y is None else y
        gates = {name: bnns.LSTMGateDescriptor(activation=act, **self.gate_arrays(k))
                 for k, (name, act) in enumerate(zip(GATES, self.activations))}
        return bnns.LayerParametersLSTM(
            input_size=self.input_size, hidden_size=H, batch_size=self.batch, num_layers=self.num_layers,
            seq_len=self.seq_len, dropout=self.dropout,
            lstm_flags=flags | (int(bnns.LayerFlags.lstm_bidirectional) if self.bidirectional else 0),
            input_descriptor=bnns.LSTMDataDescriptor(self.x, self.h0, self.c0),
            output_descriptor=bnns.LSTMDataDescriptor(y, hn, cn),
            hidden_activation=self.hidden_activation,
            data_layout=bnns.DataLayout.nse if self.batch_first else bnns.DataLayout.sne,
            dropout_seed=self.seed, **gates)

    def delta_params(self):
        """Delta parameters with poisoned (NaN) gradient outputs, and those arrays by name."""
        L, D, H = self.num_layers, self.directions, self.hidden_size
        poison = lambda a: None if a is None else np.full_like(a, np.nan)  # noqa: E731
        grads = {"dx": poison(self.x), "dh0": np.full((L * D, self.batch, H), np.nan, np.float32),
                 "dc0": np.full((L * D, self.batch, H), np.nan, np.float32)}
        gates = {}
        for k, name in enumerate(GATES):
            arrays = self.gate_arrays(k)
            arrays = dict(iw_desc=tuple(poison(a) for a in arrays["iw_desc"]),
                          hw_desc=poison(arrays["hw_desc"]), b_desc=poison(arrays["b_desc"]),
                          cw_desc=poison(arrays["cw_desc"]))
            grads[name] = arrays
            gates[name] = bnns.LSTMGateDescriptor(**arrays)
        params = bnns.LayerParametersLSTM(
            input_size=self.input_size, hidden_size=H, batch_size=self.batch, num_layers=self.num_layers,
            seq_len=self.seq_len,
            input_descriptor=bnns.LSTMDataDescriptor(grads["dx"], grads["dh0"], grads["dc0"]),
            output_descriptor=bnns.LSTMDataDescriptor(self.dy, self.dhn, self.dcn), **gates)
        return params, grads

    # ---- the float64 reference ---------------------------------------------
    def forward64(self, masks=None, weights=None, x=None, h0=None, c0=None):
        """y, hn, cn and the tape for backward64; masks[l]: keep-mask of layer l's input."""
        weights = weights or self.weights
        x = self.x if x is None else x
        h0 = self.h0 if h0 is None else h0
        c0 = self.c0 if c0 is None else c0
        L, D, H, T, B = self.num_layers, self.directions, self.hidden_size, self.seq_len, self.batch
        seq = np.asarray(x, np.float64)
        seq = seq.transpose(1, 0, 2) if self.batch_first else seq
        hn, cn, tape = np.zeros((L * D, B, H)), np.zeros((L * D, B, H)), []
        for l in range(L):
            if l > 0 and masks is not None and self.dropout > 0:
                seq = seq * masks[l] / (1 - self.dropout)
            out = np.zeros((T, B, D * H))
            layer_tape = {"input": seq, "directions": []}
            for d in range(D):
                w = weights[l][d]
                h = np.zeros((B, H)) if h0 is None else np.asarray(h0[l * D + d], np.float64)
                c = np.zeros((B, H)) if c0 is None else np.asarray(c0[l * D + d], np.float64)
                steps = []
                for t in (range(T) if d == 0 else reversed(range(T))):
                    pre = [seq[t] @ np.float64(w[k]["W"]).T + h @ np.float64(w[k]["U"]).T + w[k]["b"] for k in range(4)]
                    for k in range(3):
                        pre[k] = pre[k] + self._peep(w[k]["V"], c)
                    i, f, g = (activation(self.activations[k].function, pre[k], self.activations[k].alpha,
                                          self.activations[k].beta)[0] for k in range(3))
                    c_new = f * c + i * g
                    pre[3] = pre[3] + self._peep(w[3]["V"], c_new)
                    o = activation(self.activations[3].function, pre[3], self.activations[3].alpha,
                                   self.activations[3].beta)[0]
                    ha = self.hidden_activation
                    squashed = activation(ha.function, c_new, ha.alpha, ha.beta)[0]
                    steps.append(dict(t=t, pre=pre, h_prev=h, c_prev=c, c=c_new))
                    h, c = o * squashed, c_new
                    out[t, :, d * H:(d + 1) * H] = h
                hn[l * D + d], cn[l * D + d] = h, c
                layer_tape["directions"].append(steps)
            tape.append(layer_tape)
            seq = out
        y = seq.transpose(1, 0, 2) if self.batch_first else seq
        return y, hn, cn, tape

    @staticmethod
    def _peep(v, c):
        if v is None:
            return 0.0
        v = np.float64(v)
        return v * c if v.ndim == 1 else c @ v.T

    def backward64(self, tape, masks=None, weights=None):
        """Gradients (dx, dh0, dc0, dweights[l][d][k][name]) for dy, dhn, dcn."""
        weights = weights or self.weights
        L, D, H, T, B = self.num_layers, self.directions, self.hidden_size, self.seq_len, self.batch
        dseq = np.asarray(self.dy, np.float64)
        dseq = dseq.transpose(1, 0, 2) if self.batch_first else dseq
        dh0, dc0 = np.zeros((L * D, B, H)), np.zeros((L * D, B, H))
        dweights = [[[None] * 4 for _ in range(D)] for _ in range(L)]
        for l in reversed(range(L)):
            seq = tape[l]["input"]
            dinput = np.zeros_like(seq)
            for d in range(D):
                w = weights[l][d]
                grads = [dict(W=np.zeros(np.shape(w[k]["W"])), U=np.zeros((H, H)), b=np.zeros(H),
                              V=None if w[k]["V"] is None else np.zeros(np.shape(w[k]["V"]))) for k in range(4)]
                dh = np.float64(self.dhn[l * D + d]).copy()
                dc = np.float64(self.dcn[l * D + d]).copy()
                for step in reversed(tape[l]["directions"][d]):
                    t, pre, h_prev, c_prev, c = step["t"], step["pre"], step["h_prev"], step["c_prev"], step["c"]
                    acts = [activation(a.function, pre[k], a.alpha, a.beta) for k, a in enumerate(self.activations)]
                    (i, di), (f, df), (g, dg), (o, do) = acts
                    ha = self.hidden_activation
                    squashed, dsquashed = activation(ha.function, c, ha.alpha, ha.beta)
                    dh = dh + dseq[t, :, d * H:(d + 1) * H]
                    dpre = [None] * 4
                    dpre[3] = dh * squashed * do
                    dc = dc + dh * o * dsquashed + self._peep_back(w[3]["V"], dpre[3])
                    dpre[0], dpre[1], dpre[2] = dc * g * di, dc * c_prev * df, dc * i * dg
                    dc = dc * f + sum(self._peep_back(w[k]["V"], dpre[k]) for k in range(3))
                    for k in range(4):
                        grads[k]["W"] += dpre[k].T @ seq[t]
                        grads[k]["U"] += dpre[k].T @ h_prev
                        grads[k]["b"] += dpre[k].sum(0)
                        if grads[k]["V"] is not None:
                            cell = c if k == 3 else c_prev
                            grads[k]["V"] += (dpre[k] * cell).sum(0) if grads[k]["V"].ndim == 1 else dpre[k].T @ cell
                        dinput[t] += dpre[k] @ np.float64(w[k]["W"])
                    dh = sum(dpre[k] @ np.float64(w[k]["U"]) for k in range(4))
                dh0[l * D + d], dc0[l * D + d] = dh, dc
                dweights[l][d] = grads
            if l > 0 and masks is not None and self.dropout > 0:
                dinput = dinput * masks[l] / (1 - self.dropout)
            dseq = dinput
        dx = dseq.transpose(1, 0, 2) if self.batch_first else dseq
        return dx, dh0, dc0, dweights

    @staticmethod
    def _peep_back(v, dpre):
        if v is None:
            return 0.0
        v = np.float64(v)
        return v * dpre if v.ndim == 1 else dpre @ v


# The training cache's header (docs/lstm-layout.md): magic, offset of the
# sections from the cache's start, fingerprint; then up to 63 bytes to the
# sections' 64-byte boundary.
CACHE_HEADER_BYTES = 16
CACHE_SLACK_BYTES = CACHE_HEADER_BYTES + 63


def cache_sections(cache: np.ndarray) -> np.ndarray:
    """A written training cache from its first section on, where its header says."""
    return cache[int(cache[4:8].view(np.uint32)[0]):]


def cache_masks(problem: Problem, cache: np.ndarray):
    """The dropout masks from a written training cache, at the offsets
    docs/lstm-layout.md gives, and the bytes its sections take."""
    align = lambda n: (n + 63) // 64 * 64  # noqa: E731
    T, B, H, D = problem.seq_len, problem.batch, problem.hidden_size, problem.directions
    sections = cache_sections(cache)
    steps, offset, masks = T * B, 0, {}
    for l in range(problem.num_layers):
        offset += D * (align(steps * 4 * H * 4) + align(steps * H * 4)) + align(steps * D * H * 4)
        if problem.dropout > 0 and l > 0:
            masks[l] = sections[offset:offset + steps * D * H].reshape(T, B, D * H).astype(np.float64)
            offset += align(steps * D * H)
    return masks, offset


def relative_error(actual, expected):
    expected = np.asarray(expected, np.float64)
    norm = np.linalg.norm(expected)
    return np.linalg.norm(np.asarray(actual, np.float64) - expected) / (norm if norm > 0 else 1.0)
