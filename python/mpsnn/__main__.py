"""python -m mpsnn: the main job, or facts about this installation.

    python -m mpsnn              train an LSTM (BNNS API + Adam) on noisy sine waves
    python -m mpsnn --matmul     multiply matrices on the default device and check them
    python -m mpsnn --backends   list backends and why any is unavailable
    python -m mpsnn --cmake-dir  the folder for find_package(mpsnn) (mpsnn_DIR)
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import mpsnn


def train(steps: int) -> int:
    from mpsnn._demo import train as run_training

    print(f"mpsnn {mpsnn.__version__}: LSTM with peepholes, next value of noisy sine waves, on "
          f"{mpsnn.Device('cpu').description}")
    losses = run_training(steps)
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    print(f"loss {first:.4f} -> {last:.4f}")
    return 0 if last < 0.2 * first else 1


def matmul(size: int) -> int:
    device = mpsnn.Device.default()
    print(f"mpsnn {mpsnn.__version__} on {device.name}: {device.description}")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    left = mpsnn.Matrix.from_numpy(device, a)
    right = mpsnn.Matrix.from_numpy(device, b)
    result = mpsnn.Matrix(device, size, size)
    product = mpsnn.MatrixMultiplication(device, size, size, size)
    queue = mpsnn.CommandQueue(device)
    for _ in range(2):  # the first run warms the BLAS threads up
        buffer = queue.make_command_buffer()
        product.encode(buffer, left, right, result)
        start = time.perf_counter()
        buffer.commit()
        buffer.wait_until_completed()
        seconds = time.perf_counter() - start
    reference = a.astype(np.float64) @ b.astype(np.float64)
    error = np.linalg.norm(result.to_numpy() - reference) / np.linalg.norm(reference)
    print(f"{size}x{size} sgemm: {seconds * 1e3:.2f} ms, {2 * size**3 / seconds / 1e9:.1f} GFLOP/s, "
          f"relative error against float64 {error:.1e}")
    return 0 if error < 1e-5 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mpsnn", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cmake-dir", action="store_true", help="print the find_package(mpsnn) folder")
    parser.add_argument("--include-dir", action="store_true", help="print the C++ header folder")
    parser.add_argument("--backends", action="store_true", help="list backends")
    parser.add_argument("--matmul", action="store_true", help="the matrix-product check instead of training")
    parser.add_argument("--size", type=int, default=1024, help="matrix size for --matmul")
    parser.add_argument("--steps", type=int, default=150, help="training steps")
    args = parser.parse_args(argv)
    if args.cmake_dir:
        print(mpsnn.get_cmake_dir())
        return 0
    if args.include_dir:
        print(mpsnn.get_include_dir())
        return 0
    if args.backends:
        for info in mpsnn.backends():
            state = f"{info.device_count} device(s)" if info.available else info.reason
            print(f"{info.name:6} {state}")
        return 0
    if args.size < 1 or args.steps < 1:
        parser.error("--size and --steps must be positive")
    return matmul(args.size) if args.matmul else train(args.steps)


if __name__ == "__main__":
    sys.exit(main())
