import numpy as np
import pytest

import mpsnn


def test_matrix_is_zero_filled_with_mps_descriptor_fields(cpu):
    m = mpsnn.Matrix(cpu, 3, 5)
    assert (m.rows, m.columns, m.matrices, m.row_bytes, m.matrix_bytes) == (3, 5, 1, 20, 60)
    assert m.data_type == mpsnn.float32 and m.shape == (3, 5) and m.device == cpu
    assert not np.asarray(m).any()


def test_numpy_views_a_cpu_matrix_without_copying(cpu, rng):
    m = mpsnn.Matrix(cpu, 4, 6)
    view = np.asarray(m)
    assert view.shape == (4, 6) and view.dtype == np.float32
    values = rng.standard_normal((4, 6), dtype=np.float32)
    view[...] = values
    np.testing.assert_array_equal(np.asarray(m), values)  # the same memory
    np.testing.assert_array_equal(m.to_numpy(), values)
    copy = m.to_numpy()
    copy[0, 0] = 99
    assert np.asarray(m)[0, 0] == values[0, 0]


def test_from_numpy_shares_memory_both_ways_on_the_cpu(cpu, rng):
    a = rng.standard_normal((5, 7), dtype=np.float32)
    m = mpsnn.Matrix.from_numpy(cpu, a)
    assert np.shares_memory(np.asarray(m), a)
    a[2, 3] = 42.0
    assert np.asarray(m)[2, 3] == 42.0
    np.asarray(m)[1, 1] = -1.0
    assert a[1, 1] == -1.0


def test_matrix_keeps_the_array_alive(cpu, rng):
    a = rng.standard_normal((3, 3), dtype=np.float32)
    expected = a.copy()
    m = mpsnn.Matrix.from_numpy(cpu, a)
    del a
    import gc; gc.collect()
    np.testing.assert_array_equal(np.asarray(m), expected)


def test_batch_of_matrices_and_row_padding(cpu, rng):
    wide = rng.standard_normal((2, 3, 8), dtype=np.float32)
    view = wide[:, :, :5]  # rows 32 bytes apart, 5 columns used
    m = mpsnn.Matrix.from_numpy(cpu, view)
    assert (m.matrices, m.rows, m.columns, m.row_bytes, m.matrix_bytes) == (2, 3, 5, 32, 96)
    np.testing.assert_array_equal(m.to_numpy(), view)
    np.testing.assert_array_equal(np.asarray(m), view)

    d = mpsnn.MatrixDescriptor(3, 5, matrices=2, row_bytes=32)
    assert d.matrix_bytes == 96
    assert mpsnn.MatrixDescriptor.row_bytes_from_columns(5) == 20
    assert mpsnn.Matrix(cpu, d).to_numpy().shape == (2, 3, 5)


def test_float16_round_trip(cpu, rng):
    a = rng.standard_normal((4, 4)).astype(np.float16)
    m = mpsnn.Matrix.from_numpy(cpu, a)
    assert m.data_type == mpsnn.float16
    np.testing.assert_array_equal(np.asarray(m), a)
    assert mpsnn.Matrix(cpu, 2, 2, dtype=np.float16).data_type == mpsnn.float16
    assert mpsnn.Matrix(cpu, 2, 2, dtype="float16").row_bytes == 4


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.int64, np.uint8, np.complex64, bool])
def test_wrong_dtype_is_rejected_naming_the_argument(cpu, dtype):
    with pytest.raises(ValueError, match=r"array has dtype .*expected float32 or float16"):
        mpsnn.Matrix.from_numpy(cpu, np.ones((2, 2), dtype=dtype))
    with pytest.raises(ValueError, match="dtype"):
        mpsnn.Matrix(cpu, 2, 2, dtype=dtype)


def test_non_contiguous_arrays_are_rejected(cpu, rng):
    a = rng.standard_normal((6, 6), dtype=np.float32)
    for bad in (a.T, a[:, ::2], a[::-1]):
        with pytest.raises(ValueError, match="ascontiguousarray"):
            mpsnn.Matrix.from_numpy(cpu, bad)


def test_bad_arrays_are_rejected(cpu):
    with pytest.raises(ValueError, match="empty"):
        mpsnn.Matrix.from_numpy(cpu, np.ones((0, 3), np.float32))
    with pytest.raises(ValueError, match="2 dimensions"):
        mpsnn.Matrix.from_numpy(cpu, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="2 dimensions"):
        mpsnn.Matrix.from_numpy(cpu, np.ones((2, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="numpy.ndarray"):
        mpsnn.Matrix.from_numpy(cpu, [[1.0, 2.0]])
    frozen = np.ones((2, 2), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        mpsnn.Matrix.from_numpy(cpu, frozen)


@pytest.mark.parametrize("rows,columns,name", [(0, 3, "rows"), (3, 0, "columns"), (-1, 3, "rows"),
                                               (3, -5, "columns")])
def test_non_positive_sizes_are_rejected_naming_the_argument(cpu, rows, columns, name):
    with pytest.raises(ValueError, match=f"{name} must be positive"):
        mpsnn.Matrix(cpu, rows, columns)
    with pytest.raises(ValueError, match=f"{name} must be positive"):
        mpsnn.MatrixDescriptor(rows, columns)


def test_bad_descriptor_strides_are_rejected():
    with pytest.raises(ValueError, match="row_bytes=8 must be .* at least columns"):
        mpsnn.MatrixDescriptor(2, 4, row_bytes=8)
    with pytest.raises(ValueError, match="row_bytes=18 must be a multiple of 4"):
        mpsnn.MatrixDescriptor(2, 4, row_bytes=18)
    with pytest.raises(ValueError, match="matrix_bytes=16 must be"):
        mpsnn.MatrixDescriptor(2, 4, matrices=2, matrix_bytes=16)
    with pytest.raises(ValueError, match="matrices must be positive"):
        mpsnn.MatrixDescriptor(2, 4, matrices=0)
    with pytest.raises(ValueError, match="too large"):
        mpsnn.MatrixDescriptor(2**40, 2**20)
