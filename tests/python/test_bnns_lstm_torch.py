"""Parity with torch.nn.LSTM (float64) where it has the same model: no peepholes,
default activations. Skipped without PyTorch."""

import numpy as np
import pytest

from lstm_reference import GATES, Problem, relative_error
from test_bnns_lstm import TOLERANCE, run

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("problem", [
    Problem(),
    Problem(num_layers=2, bidirectional=True, seed=3),
    Problem(num_layers=3, hidden_size=8, input_size=6, batch=4, seq_len=7, seed=5),
    Problem(initial_states=False, batch_first=True, num_layers=2, seed=8),
], ids=["one_layer", "bidirectional_two_layers", "three_layers", "batch_first_zero_states"])
def test_outputs_and_every_gradient_match_torch(problem):
    L, D, H = problem.num_layers, problem.directions, problem.hidden_size
    lstm = torch.nn.LSTM(problem.input_size, H, num_layers=L, bidirectional=problem.bidirectional,
                         batch_first=problem.batch_first, dtype=torch.float64)
    with torch.no_grad():
        for l in range(L):
            for d in range(D):
                suffix = f"l{l}" + ("_reverse" if d else "")
                w = problem.weights[l][d]  # gate order i, f, c, o is torch's i, f, g, o
                getattr(lstm, f"weight_ih_{suffix}").copy_(torch.from_numpy(np.concatenate([w[k]["W"] for k in range(4)])))
                getattr(lstm, f"weight_hh_{suffix}").copy_(torch.from_numpy(np.concatenate([w[k]["U"] for k in range(4)])))
                getattr(lstm, f"bias_ih_{suffix}").copy_(torch.from_numpy(np.concatenate([w[k]["b"] for k in range(4)])))
                getattr(lstm, f"bias_hh_{suffix}").zero_()
    x = torch.tensor(np.float64(problem.x), requires_grad=True)
    states = None
    if problem.initial_states:
        h0 = torch.tensor(np.float64(problem.h0), requires_grad=True)
        c0 = torch.tensor(np.float64(problem.c0), requires_grad=True)
        states = (h0, c0)
    y, (hn, cn) = lstm(x, states)
    loss = (y * torch.from_numpy(np.float64(problem.dy))).sum() + (hn * torch.from_numpy(np.float64(problem.dhn))).sum() \
        + (cn * torch.from_numpy(np.float64(problem.dcn))).sum()
    loss.backward()

    ours = run(problem)
    assert relative_error(ours["y"], y.detach().numpy()) < TOLERANCE
    assert relative_error(ours["hn"], hn.detach().numpy()) < TOLERANCE
    assert relative_error(ours["cn"], cn.detach().numpy()) < TOLERANCE
    grads = ours["grads"]
    assert relative_error(grads["dx"], x.grad.numpy()) < TOLERANCE
    if problem.initial_states:
        assert relative_error(grads["dh0"], h0.grad.numpy()) < TOLERANCE
        assert relative_error(grads["dc0"], c0.grad.numpy()) < TOLERANCE
    for l in range(L):
        for d in range(D):
            suffix = f"l{l}" + ("_reverse" if d else "")
            for k, gate in enumerate(GATES):
                rows = slice(k * H, (k + 1) * H)
                iw = grads[gate]["iw_desc"]
                ours_w = iw[0][l, d] if iw[1] is None else (iw[0][0, d] if l == 0 else iw[1][l - 1, d])
                assert relative_error(ours_w, getattr(lstm, f"weight_ih_{suffix}").grad[rows].numpy()) < TOLERANCE
                assert relative_error(grads[gate]["hw_desc"][l, d],
                                      getattr(lstm, f"weight_hh_{suffix}").grad[rows].numpy()) < TOLERANCE
                assert relative_error(grads[gate]["b_desc"][l, d],
                                      getattr(lstm, f"bias_ih_{suffix}").grad[rows].numpy()) < TOLERANCE
