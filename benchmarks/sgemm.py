"""mpsnn's CPU sgemm (MatrixMultiplication through a command buffer) against
NumPy's matmul on the same inputs. Both call OpenBLAS on Linux, so the target
is a ratio >= 0.9.

    python benchmarks/sgemm.py [--sizes 1024 2048] [--repeats 15]
"""

from __future__ import annotations

import argparse

import numpy as np

import mpsnn
from harness import alternate, table, write_json

TARGET = 0.9


def measure(size: int, repeats: int) -> dict:
    device = mpsnn.Device("cpu")
    rng = np.random.default_rng(size)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty((size, size), np.float32)
    left, right = mpsnn.Matrix.from_numpy(device, a), mpsnn.Matrix.from_numpy(device, b)
    result = mpsnn.Matrix(device, size, size)
    kernel = mpsnn.MatrixMultiplication(device, size, size, size)
    queue = mpsnn.CommandQueue(device)

    def ours():
        buffer = queue.make_command_buffer()
        kernel.encode(buffer, left, right, result)
        buffer.commit()
        buffer.wait_until_completed()

    def numpy():
        np.matmul(a, b, out=out)

    seconds = alternate({"mpsnn": ours, "numpy": numpy}, repeats)
    ours()
    error = np.linalg.norm(np.asarray(result) - out) / np.linalg.norm(out)
    assert error < 1e-5, f"mpsnn and NumPy disagree: relative difference {error:.2e}"
    flops = 2.0 * size**3
    return {"size": size, "mpsnn_ms": seconds["mpsnn"] * 1e3, "numpy_ms": seconds["numpy"] * 1e3,
            "mpsnn_gflops": flops / seconds["mpsnn"] / 1e9, "numpy_gflops": flops / seconds["numpy"] / 1e9,
            "ratio": seconds["numpy"] / seconds["mpsnn"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    rows = [measure(size, args.repeats) for size in args.sizes]
    print(mpsnn.Device("cpu").description)
    print(table(rows, [("size", "n", "d"), ("mpsnn_ms", "mpsnn ms", ".2f"), ("numpy_ms", "numpy ms", ".2f"),
                       ("mpsnn_gflops", "mpsnn GFLOP/s", ".1f"), ("numpy_gflops", "numpy GFLOP/s", ".1f"),
                       ("ratio", "ratio (numpy/mpsnn time)", ".3f")]))
    ok = all(row["ratio"] >= TARGET for row in rows)
    path = write_json("sgemm", {"target_ratio": TARGET, "met": ok, "rows": rows})
    print(f"target ratio >= {TARGET}: {'met' if ok else 'MISSED'}; wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
