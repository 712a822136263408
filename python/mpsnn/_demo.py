"""The main job: train an LSTM with diagonal peepholes to predict the next value
of noisy sine waves, with mpsnn.bnns for the LSTM and mpsnn.optim's Adam for
every weight, on the CPU. Returns the loss history."""

from __future__ import annotations

import time

import numpy as np

from . import bnns, optim
from ._core import CommandQueue, Device, Matrix

AF = bnns.ActivationFunction
GATES = ("input_gate", "forget_gate", "candidate_gate", "output_gate")


def sine_batch(rng, batch: int, steps: int):
    """Inputs [T+1, B, 1]: sines of random frequency and phase, with noise."""
    t = np.arange(steps + 1)[:, None]
    frequency = rng.uniform(0.05, 0.25, batch)[None, :]
    phase = rng.uniform(0, 2 * np.pi, batch)[None, :]
    wave = np.sin(frequency * t + phase) + 0.05 * rng.standard_normal((steps + 1, batch))
    return wave[..., None].astype(np.float32)


def train(steps: int = 150, hidden: int = 32, batch: int = 16, seq_len: int = 40, seed: int = 0,
          log=print) -> list[float]:
    rng = np.random.default_rng(seed)
    device, queue = Device("cpu"), CommandQueue(Device("cpu"))
    I, H, T, B = 1, hidden, seq_len, batch
    init = lambda *shape, scale: (scale * rng.standard_normal(shape)).astype(np.float32)  # noqa: E731
    weights = {g: dict(iw=init(1, 1, H, I, scale=0.5), hw=init(1, 1, H, H, scale=1 / np.sqrt(H)),
                       cw=init(1, 1, H, scale=0.1), b=np.zeros((1, 1, H), np.float32)) for g in GATES}
    weights["forget_gate"]["b"][:] = 1.0  # remember by default
    readout = {"w": init(H, 1, scale=1 / np.sqrt(H)), "b": np.zeros((1, 1), np.float32)}
    grads = {g: {k: np.zeros_like(a) for k, a in w.items()} for g, w in weights.items()}
    readout_grads = {k: np.zeros_like(a) for k, a in readout.items()}

    x = np.empty((T, B, I), np.float32)
    y = np.empty((T, B, H), np.float32)
    dy = np.empty_like(y)
    activations = {"input_gate": AF.sigmoid, "forget_gate": AF.sigmoid, "candidate_gate": AF.tanh,
                   "output_gate": AF.sigmoid}
    params = bnns.LayerParametersLSTM(
        input_size=I, hidden_size=H, batch_size=B, num_layers=1, seq_len=T,
        input_descriptor=bnns.LSTMDataDescriptor(x), output_descriptor=bnns.LSTMDataDescriptor(y),
        hidden_activation=bnns.Activation(AF.tanh),
        **{g: bnns.LSTMGateDescriptor(iw_desc=(w["iw"], None), hw_desc=w["hw"], cw_desc=w["cw"], b_desc=w["b"],
                                      activation=bnns.Activation(activations[g])) for g, w in weights.items()})
    delta = bnns.LayerParametersLSTM(
        input_size=I, hidden_size=H, batch_size=B, num_layers=1, seq_len=T,
        output_descriptor=bnns.LSTMDataDescriptor(dy),
        **{g: bnns.LSTMGateDescriptor(iw_desc=(d["iw"], None), hw_desc=d["hw"], cw_desc=d["cw"], b_desc=d["b"])
           for g, d in grads.items()})
    cache = np.empty(bnns.compute_lstm_training_cache_capacity(params), np.uint8)

    # Every weight and gradient as a matrix over the same memory, for Adam.
    as_matrix = lambda a: Matrix.from_numpy(device, a.reshape(-1, a.shape[-1]))  # noqa: E731
    weight_list = [w[k] for g in GATES for k in ("iw", "hw", "cw", "b") for w in [weights[g]]] + list(readout.values())
    grad_list = [d[k] for g in GATES for k in ("iw", "hw", "cw", "b") for d in [grads[g]]] + list(readout_grads.values())
    w_matrices, g_matrices = map(lambda arrays: [as_matrix(a) for a in arrays], (weight_list, grad_list))
    adam = optim.Adam(device, learning_rate=0.01)
    states = [adam.make_state(m) for m in w_matrices]
    schedule = optim.CosineSchedule(adam, total_steps=steps)

    losses, start = [], time.perf_counter()
    for step in range(steps):
        wave = sine_batch(rng, B, T)
        x[...], target = wave[:-1], wave[1:, :, 0]
        bnns.direct_apply_lstm_batch_training_caching(params, None, cache)
        prediction = (y @ readout["w"])[..., 0] + readout["b"][0, 0]
        error = prediction - target
        losses.append(float(np.mean(error**2)))
        d_prediction = (2.0 / error.size) * error                      # [T, B]
        readout_grads["w"][...] = np.einsum("tbh,tb->h", y, d_prediction)[:, None]
        readout_grads["b"][...] = d_prediction.sum()
        dy[...] = d_prediction[..., None] * readout["w"][:, 0]
        bnns.direct_apply_lstm_batch_backward(params, delta, None, cache)
        buffer = queue.make_command_buffer()
        adam.encode(buffer, g_matrices, w_matrices, states)
        buffer.commit()
        buffer.wait_until_completed()
        schedule.step()
        if log and (step % max(1, steps // 10) == 0 or step == steps - 1):
            log(f"step {step:4d}  loss {losses[-1]:.4f}")
    if log:
        seconds = time.perf_counter() - start
        log(f"{steps} training steps in {seconds:.2f} s ({seconds / steps * 1e3:.1f} ms per step: "
            f"LSTM forward + backward, readout, Adam over {len(w_matrices)} tensors)")
    return losses
