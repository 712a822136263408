import numpy as np
import pytest

import mpsnn
from conftest import relative_error

TOLERANCE = 1e-5  # float32 against float64, norm-wise


def run(queue, kernel, left, right, result):
    buffer = queue.make_command_buffer()
    kernel.encode(buffer, left, right, result)
    buffer.commit()
    buffer.wait_until_completed()


def op(a, transpose):
    return a.T if transpose else a


@pytest.mark.parametrize("transpose_left", [False, True])
@pytest.mark.parametrize("transpose_right", [False, True])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 5, 3), (64, 33, 129), (200, 1, 17)])
def test_against_float64(cpu, queue, rng, m, n, k, transpose_left, transpose_right):
    a = rng.standard_normal((k, m) if transpose_left else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if transpose_right else (k, n), dtype=np.float32)
    c = rng.standard_normal((m, n), dtype=np.float32)
    alpha, beta = 0.75, -1.5
    result = mpsnn.Matrix.from_numpy(cpu, c.copy())
    kernel = mpsnn.MatrixMultiplication(cpu, m, n, k, transpose_left=transpose_left,
                                        transpose_right=transpose_right, alpha=alpha, beta=beta)
    run(queue, kernel, mpsnn.Matrix.from_numpy(cpu, a), mpsnn.Matrix.from_numpy(cpu, b), result)
    expected = alpha * op(a.astype(np.float64), transpose_left) @ op(b.astype(np.float64), transpose_right) \
        + beta * c.astype(np.float64)
    assert relative_error(np.asarray(result), expected) < TOLERANCE


def test_origins_and_padded_rows_touch_only_the_described_block(cpu, queue, rng):
    a = rng.standard_normal((10, 12), dtype=np.float32)
    b = rng.standard_normal((9, 8), dtype=np.float32)
    c = rng.standard_normal((6, 7), dtype=np.float32)
    before = c.copy()
    kernel = mpsnn.MatrixMultiplication(cpu, 3, 4, 5)
    kernel.left_matrix_origin = (2, 1)
    kernel.right_matrix_origin = mpsnn.Origin(3, 2)
    kernel.result_matrix_origin = (1, 2, 0)
    result = mpsnn.Matrix.from_numpy(cpu, c)
    run(queue, kernel, mpsnn.Matrix.from_numpy(cpu, a), mpsnn.Matrix.from_numpy(cpu, b), result)
    expected = before.astype(np.float64)
    expected[1:4, 2:6] = a[2:5, 1:6].astype(np.float64) @ b[3:8, 2:6]
    assert relative_error(c, expected) < TOLERANCE
    outside = np.ones_like(c, bool)
    outside[1:4, 2:6] = False
    np.testing.assert_array_equal(c[outside], before[outside])


def test_batches(cpu, queue, rng):
    a = rng.standard_normal((4, 3, 5), dtype=np.float32)
    b = rng.standard_normal((4, 5, 2), dtype=np.float32)
    c = np.full((4, 3, 2), 7.0, np.float32)
    kernel = mpsnn.MatrixMultiplication(cpu, 3, 2, 5)
    kernel.batch_start, kernel.batch_size = 1, 2
    result = mpsnn.Matrix.from_numpy(cpu, c)
    run(queue, kernel, mpsnn.Matrix.from_numpy(cpu, a), mpsnn.Matrix.from_numpy(cpu, b), result)
    assert relative_error(c[1:3], a[1:3].astype(np.float64) @ b[1:3]) < TOLERANCE
    assert (c[0] == 7).all() and (c[3] == 7).all()
    kernel.batch_start, kernel.batch_size = 0, 0  # 0: every matrix
    run(queue, kernel, mpsnn.Matrix.from_numpy(cpu, a), mpsnn.Matrix.from_numpy(cpu, b), result)
    assert relative_error(c, a.astype(np.float64) @ b) < TOLERANCE


def test_nan_propagates(cpu, queue):
    a = np.ones((2, 2), np.float32)
    a[0, 0] = np.nan
    result = mpsnn.Matrix(cpu, 2, 2)
    run(queue, mpsnn.MatrixMultiplication(cpu, 2, 2, 2), mpsnn.Matrix.from_numpy(cpu, a),
        mpsnn.Matrix.from_numpy(cpu, np.ones((2, 2), np.float32)), result)
    out = np.asarray(result)
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


class TestBadInput:
    def matrices(self, cpu, m=3, n=4, k=5):
        return mpsnn.Matrix(cpu, m, k), mpsnn.Matrix(cpu, k, n), mpsnn.Matrix(cpu, m, n)

    def test_non_positive_dimensions(self, cpu):
        for args, name in (((0, 4, 5), "result_rows"), ((3, -1, 5), "result_columns"),
                           ((3, 4, 0), "interior_columns")):
            with pytest.raises(ValueError, match=f"{name} must be positive"):
                mpsnn.MatrixMultiplication(cpu, *args)

    def test_shapes_that_do_not_fit(self, cpu, queue):
        left, right, result = self.matrices(cpu)
        kernel = mpsnn.MatrixMultiplication(cpu, 3, 4, 6)
        with pytest.raises(ValueError, match=r"\[matrix_multiplication\] left is 3x5 but the product reads 3x6"):
            kernel.encode(queue.make_command_buffer(), left, right, result)
        kernel = mpsnn.MatrixMultiplication(cpu, 3, 4, 5, transpose_left=True)
        with pytest.raises(ValueError, match="left is 3x5 but the product reads 5x3"):
            kernel.encode(queue.make_command_buffer(), left, right, result)
        kernel = mpsnn.MatrixMultiplication(cpu, 3, 4, 5)
        kernel.result_matrix_origin = (1, 0)
        with pytest.raises(ValueError, match="result is 3x4 .* from origin \\(1, 0\\)"):
            kernel.encode(queue.make_command_buffer(), left, right, result)
        kernel.result_matrix_origin = (0, 0, 1)
        with pytest.raises(ValueError, match="origin z must be 0"):
            kernel.encode(queue.make_command_buffer(), left, right, result)

    def test_batch_out_of_range(self, cpu, queue):
        left, right, result = self.matrices(cpu)
        kernel = mpsnn.MatrixMultiplication(cpu, 3, 4, 5)
        kernel.batch_start = 1
        with pytest.raises(ValueError, match="batch_start 1 is past"):
            kernel.encode(queue.make_command_buffer(), left, right, result)
        kernel.batch_start, kernel.batch_size = 0, 2
        with pytest.raises(ValueError, match="left holds 1 matrices"):
            kernel.encode(queue.make_command_buffer(), left, right, result)
        with pytest.raises(ValueError, match="batch_start must be >= 0"):
            kernel.batch_start = -1

    def test_float16_is_refused(self, cpu, queue):
        left, right, result = self.matrices(cpu)
        half = mpsnn.Matrix(cpu, 3, 5, dtype=mpsnn.float16)
        with pytest.raises(ValueError, match="left has data type float16; expected float32"):
            mpsnn.MatrixMultiplication(cpu, 3, 4, 5).encode(queue.make_command_buffer(), half, right, result)

    def test_result_overlapping_an_input(self, cpu, queue, rng):
        shared = rng.standard_normal((4, 4), dtype=np.float32)
        a = mpsnn.Matrix.from_numpy(cpu, shared)
        alias = mpsnn.Matrix.from_numpy(cpu, shared)
        with pytest.raises(ValueError, match="result overlaps left"):
            mpsnn.MatrixMultiplication(cpu, 4, 4, 4).encode(queue.make_command_buffer(), a, a.__class__(cpu, 4, 4), alias)
        kernel = mpsnn.MatrixMultiplication(cpu, 2, 2, 2)
        kernel.result_matrix_origin = (2, 2)  # disjoint blocks of one matrix are fine
        kernel.encode(queue.make_command_buffer(), a, mpsnn.Matrix(cpu, 2, 2), a)

    def test_wrong_argument_types(self, cpu, queue):
        left, right, result = self.matrices(cpu)
        with pytest.raises(TypeError):
            mpsnn.MatrixMultiplication(cpu, 3, 4, 5).encode(queue.make_command_buffer(), np.ones((3, 5)), right, result)


def available_devices():
    return [mpsnn.Device(f"{b.name}:{i}") if b.name != "cpu" else mpsnn.Device("cpu")
            for b in mpsnn.backends() if b.available for i in range(b.device_count)]


def test_matrices_and_buffers_of_another_device_are_refused():
    devices = available_devices()
    if len(devices) < 2:
        pytest.skip(f"needs two devices to mix; this machine has {[d.name for d in devices]}")
    home, other = devices[0], devices[1]
    kernel = mpsnn.MatrixMultiplication(home, 2, 2, 2)
    local = [mpsnn.Matrix(home, 2, 2) for _ in range(3)]
    foreign = mpsnn.Matrix(other, 2, 2)
    buffer = mpsnn.CommandQueue(home).make_command_buffer()
    for position, name in enumerate(("left", "right", "result")):
        args = list(local)
        args[position] = foreign
        with pytest.raises(ValueError, match=f"{name} is on {other.name} but the kernel is on {home.name}"):
            kernel.encode(buffer, *args)
    with pytest.raises(ValueError, match=f"command_buffer is on {other.name}"):
        kernel.encode(mpsnn.CommandQueue(other).make_command_buffer(), *local)
