"""One LSTM training step on the CPU (forward writing the training cache, then
backward: input projection, every gradient) through mpsnn.bnns, against
torch.nn.LSTM on the same inputs in the same process, both on all cores.

    python benchmarks/lstm_cpu.py [--repeats 4] [--rounds 9] [--configs 128/32/100 ...]

Targets (issue 3): ratio (torch time / mpsnn time) >= 1.0 on every configuration
and >= 1.2 median; >= 85% of the measured sgemm rate on H=1024; diagonal
peepholes cost at most 5% more than none. "ceiling" is the ratio a step running
entirely at the measured sgemm rate (2048^3 through OpenBLAS) would reach; the
LSTM's packed kernels can beat that rate by a few percent on some shapes.
Each configuration gives mpsnn and torch turns of 2 untimed and `repeats`
timed steps, `rounds` times over (harness.interleaved_times says why turns
this short); the times are the medians of all timed steps. "spread" is how
far the medians of the turns moved: the machine's drift during the
measurement. The peephole cost is the median ratio of steps with and
without diagonal peepholes timed in adjacent pairs (repeats x rounds of
them, each timed step after an untimed one of its own): pairs up to six
steps apart read +6 to +10% on the 16-core host where adjacent ones read
−0.4 to +3.2%.
"""

from __future__ import annotations

import os

# NumPy is no contender here, and its OpenBLAS keeps a worker thread that, once
# woken by a NumPy product, can spin through the measurements and take a core
# from whichever contender runs (seen: a quarter of mpsnn's step in half the
# runs on 2 cores). Torch uses MKL and OpenMP, which this does not touch.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics
import sys
from pathlib import Path

import numpy as np

import mpsnn
from harness import alternate, interleaved_times, table, write_json
from mpsnn import bnns

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
from lstm_reference import Problem  # noqa: E402  (the tests' problem builder)

CONFIGS = ["128/32/100", "256/16/150", "512/64/25", "1024/16/100", "512/16/25", "256/4/150"]
# Timed products in each of sgemm_rate's blocks: the "median of >= 7 runs".
SGEMM_STEPS = 7


def mpsnn_step(problem: Problem):
    """A closure running one training step with preallocated arrays."""
    D, H = problem.directions, problem.hidden_size
    y = np.empty(problem.sequence_shape(D * H), np.float32)
    params = problem.layer_params(y, np.empty_like(problem.dhn), np.empty_like(problem.dcn))
    cache = np.empty(bnns.compute_lstm_training_cache_capacity(params), np.uint8)
    delta, grads = problem.delta_params()

    def step():
        bnns.direct_apply_lstm_batch_training_caching(params, None, cache)
        bnns.direct_apply_lstm_batch_backward(params, delta, None, cache)

    return step, y, grads


def torch_step(problem: Problem, torch):
    H = problem.hidden_size
    lstm = torch.nn.LSTM(problem.input_size, H, num_layers=problem.num_layers)
    with torch.no_grad():
        for k_name, key in (("weight_ih_l0", "W"), ("weight_hh_l0", "U"), ("bias_ih_l0", "b")):
            getattr(lstm, k_name).copy_(torch.from_numpy(np.concatenate([problem.weights[0][0][k][key] for k in range(4)])))
        lstm.bias_hh_l0.zero_()
    x = torch.from_numpy(problem.x).requires_grad_()
    h0 = torch.from_numpy(problem.h0).requires_grad_()
    c0 = torch.from_numpy(problem.c0).requires_grad_()
    dy = torch.from_numpy(problem.dy)

    def step():
        lstm.zero_grad(set_to_none=True)
        x.grad = h0.grad = c0.grad = None
        y, _ = lstm(x, (h0, c0))
        y.backward(dy)

    def output():
        with torch.no_grad():
            return lstm(x, (h0, c0))[0].numpy()

    return step, output


def sgemm_rate(repeats: int) -> float:
    """GFLOP/s of mpsnn's sgemm on 2048^3, the ceiling the LSTM's GEMMs run against:
    the fastest of three blocks' medians, since a peak is what the machine gives
    when nothing else takes a core (one block alone once read half the rate on
    2 cores, and every "of sgemm" figure above 150%)."""
    device, n = mpsnn.Device("cpu"), 2048
    rng = np.random.default_rng(0)
    a, b = (mpsnn.Matrix.from_numpy(device, rng.standard_normal((n, n), dtype=np.float32)) for _ in range(2))
    c = mpsnn.Matrix(device, n, n)
    kernel, queue = mpsnn.MatrixMultiplication(device, n, n, n), mpsnn.CommandQueue(device)

    def run():
        buffer = queue.make_command_buffer()
        kernel.encode(buffer, a, b, c)
        buffer.commit()
        buffer.wait_until_completed()

    blocks = [alternate({"sgemm": run}, repeats, rounds=1)["sgemm"] for _ in range(3)]
    return 2 * n**3 / min(blocks) / 1e9


def block_spread(seconds: list[float], size: int) -> float:
    """max/min - 1 of the medians of consecutive runs, `size` at a time: how
    much the machine's speed moved during the measurement."""
    medians = [statistics.median(seconds[i:i + size]) for i in range(0, len(seconds) - size + 1, size)]
    return max(medians) / min(medians) - 1


def measure(config: str, repeats: int, rounds: int, torch, peak: float) -> dict:
    H, B, T = map(int, config.split("/"))
    problem = Problem(input_size=H, hidden_size=H, batch=B, seq_len=T, seed=H + B + T, scale=0.1)
    peephole = Problem(input_size=H, hidden_size=H, batch=B, seq_len=T, seed=H + B + T, scale=0.1,
                       peephole="diagonal")
    ours, y, _ = mpsnn_step(problem)
    ours_peephole, _, _ = mpsnn_step(peephole)
    theirs, torch_output = torch_step(problem, torch)
    times = interleaved_times({"mpsnn": ours, "torch": theirs}, rounds, repeats)
    seconds = {name: statistics.median(values) for name, values in times.items()}
    pairs = interleaved_times({"plain": ours, "peephole": ours_peephole}, repeats * rounds, timed=1, untimed=1)
    peephole_cost = statistics.median(p / n for p, n in zip(pairs["peephole"], pairs["plain"]))
    ours()
    difference = np.linalg.norm(y - torch_output()) / np.linalg.norm(torch_output())
    assert difference < 1e-3, f"{config}: mpsnn and torch disagree ({difference:.1e})"
    flops = 48.0 * T * B * H * H  # forward 2*T*B*4H*(I+H), backward twice that, I = H
    gflops = flops / seconds["mpsnn"] / 1e9
    return {"config": config, "H": H, "B": B, "T": T, "mpsnn_ms": seconds["mpsnn"] * 1e3,
            "torch_ms": seconds["torch"] * 1e3, "ratio": seconds["torch"] / seconds["mpsnn"],
            "mpsnn_gflops": gflops, "torch_gflops": flops / seconds["torch"] / 1e9,
            "fraction_of_sgemm": gflops / peak,
            # torch's time over the time of the step's FLOPs at the sgemm rate
            # measured in this run.
            "ceiling_ratio": seconds["torch"] / (flops / (peak * 1e9)),
            "peephole_ms": statistics.median(pairs["peephole"]) * 1e3,
            "peephole_overhead": peephole_cost - 1,
            "spread": max(block_spread(times[name], repeats) for name in ("mpsnn", "torch"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=4, help="timed steps in a contender's turn")
    parser.add_argument("--rounds", type=int, default=9, help="turns of each contender")
    parser.add_argument("--configs", nargs="+", default=CONFIGS, help="H/B/T")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: pip install torch==2.13.0 (the CPU build) to compare")
        return 2
    peak = sgemm_rate(SGEMM_STEPS)
    rows = [measure(config, args.repeats, args.rounds, torch, peak) for config in args.configs]
    print(f"{mpsnn.Device('cpu').description}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"mkldnn {torch.backends.mkldnn.is_available()}; sgemm 2048^3: {peak:.1f} GFLOP/s")
    print(table(rows, [("config", "H/B/T", "s"), ("mpsnn_ms", "mpsnn ms", ".1f"), ("torch_ms", "torch ms", ".1f"),
                       ("ratio", "ratio", ".2f"), ("ceiling_ratio", "ceiling", ".2f"), ("mpsnn_gflops", "GFLOP/s", ".1f"),
                       ("fraction_of_sgemm", "of sgemm", ".0%"), ("peephole_overhead", "peephole +", "+.1%"),
                       ("spread", "spread", ".0%")]))
    median = statistics.median(r["ratio"] for r in rows)
    h1024 = [r["fraction_of_sgemm"] for r in rows if r["H"] == 1024]
    targets = {"every ratio >= 1.0": all(r["ratio"] >= 1.0 for r in rows),
               "median ratio >= 1.2": median >= 1.2,
               "H=1024 >= 85% of sgemm": bool(h1024) and min(h1024) >= 0.85,
               "diagonal peephole <= +5%": all(r["peephole_overhead"] <= 0.05 for r in rows)}
    print(f"median ratio {median:.2f}")
    for name, met in targets.items():
        print(f"  {'met   ' if met else 'MISSED'} {name}")
    path = write_json("lstm_cpu", {"sgemm_gflops": peak, "median_ratio": median, "targets": targets, "rows": rows})
    print(f"wrote {path}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
