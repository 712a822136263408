"""Every way to misuse the BNNS LSTM gets a ValueError naming the argument, and
leaves the caller's arrays as they were."""

import dataclasses

import numpy as np
import pytest

from lstm_reference import AF, Problem
from mpsnn import bnns


def forward(params, cache=None):
    bnns.direct_apply_lstm_batch_training_caching(params, None, cache)


def test_wrong_sizes_are_named():
    for field, value, message in (("hidden_size", 0, "must be positive"), ("seq_len", -1, "seq_len must be >= 0"),
                                  ("input_size", 6, r"input_gate.iw_desc\[0\] has shape \(1, 1, 4, 5\); expected \(1, 1, 4, 6\)"),
                                  ("batch_size", 2, r"input_descriptor.data_desc has shape \(6, 3, 5\); expected \(6, 2, 5\)"),
                                  ("dropout", 1.0, r"dropout must be in \[0, 1\)"),
                                  ("dropout", float("nan"), r"dropout must be in \[0, 1\)")):
        params = dataclasses.replace(Problem().layer_params(), **{field: value})
        with pytest.raises(ValueError, match=message):
            forward(params)


def test_inconsistent_layer_counts_are_named():
    problem = Problem(num_layers=2)
    params = dataclasses.replace(problem.layer_params(), num_layers=3)
    with pytest.raises(ValueError, match=r"iw_desc\[0\] has shape \(1, 1, 4, 5\)|iw_desc\[1\] has shape"):
        forward(params)
    params = problem.layer_params()
    params.input_descriptor.hidden_desc = np.zeros((3, problem.batch, problem.hidden_size), np.float32)
    with pytest.raises(ValueError, match=r"input_descriptor.hidden_desc has shape \(3, 3, 4\); expected \(2, 3, 4\)"):
        forward(params)
    one = Problem().layer_params()
    one.forget_gate.iw_desc = (one.forget_gate.iw_desc[0], np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"forget_gate.iw_desc\[1\] is given but num_layers is 1"):
        forward(one)


def test_missing_required_arrays():
    params = Problem().layer_params()
    params.output_gate.hw_desc = None
    with pytest.raises(ValueError, match=r"output_gate.hw_desc is required \(shape \(1, 1, 4, 4\)\)"):
        forward(params)
    params = Problem().layer_params()
    params.output_descriptor.data_desc = None
    with pytest.raises(ValueError, match="output_descriptor.data_desc is required"):
        forward(params)


def test_wrong_dtypes_layouts_and_types():
    problem = Problem()
    params = problem.layer_params()
    params.input_descriptor.data_desc = np.float64(problem.x)
    with pytest.raises(ValueError, match="input_descriptor.data_desc has dtype float64; expected float32"):
        forward(params)
    params.input_descriptor.data_desc = np.asfortranarray(problem.x)
    with pytest.raises(ValueError, match="input_descriptor.data_desc is not C-contiguous"):
        forward(params)
    params.input_descriptor.data_desc = problem.x.tolist()
    with pytest.raises(ValueError, match="input_descriptor.data_desc must be a numpy.ndarray or None; got list"):
        forward(params)
    params = problem.layer_params()
    frozen = params.output_descriptor.data_desc
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="output_descriptor.data_desc is read-only"):
        forward(params)


def test_mixed_peephole_kinds_and_unusable_activations():
    params = Problem(peephole="diagonal").layer_params()
    params.output_gate.cw_desc = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="every cw_desc must be diagonal"):
        forward(params)
    params = Problem().layer_params()
    params.forget_gate.activation = bnns.Activation(AF.abs)
    with pytest.raises(ValueError, match="forget_gate cannot be absolute"):
        forward(params)
    params = Problem().layer_params()
    params.candidate_gate.activation = bnns.Activation(AF.scaled_tanh, 0.0, 1.0)
    with pytest.raises(ValueError, match="candidate_gate tanh needs a != 0"):
        forward(params)
    with pytest.raises(ValueError, match="lstm_flags has unknown bits"):
        forward(dataclasses.replace(Problem().layer_params(), lstm_flags=64))


def test_cache_too_small_and_bad_caches():
    problem = Problem(num_layers=2)
    params = problem.layer_params()
    capacity = bnns.compute_lstm_training_cache_capacity(params)
    y_before = params.output_descriptor.data_desc.copy()
    with pytest.raises(ValueError, match=f"training_cache_capacity {capacity - 1} is smaller than .* = {capacity}"):
        forward(params, np.zeros(capacity - 1, np.uint8))
    np.testing.assert_array_equal(params.output_descriptor.data_desc, y_before)  # nothing written
    cache = np.zeros(capacity, np.uint8)
    forward(params, cache)
    delta, _ = problem.delta_params()
    with pytest.raises(ValueError, match="smaller than"):
        bnns.direct_apply_lstm_batch_backward(params, delta, None, cache[:-8])
    with pytest.raises(ValueError, match="training_cache must be a numpy.ndarray"):
        bnns.direct_apply_lstm_batch_training_caching(params, None, bytearray(capacity))
    with pytest.raises(ValueError, match="training_cache holds no training forward's cache"):
        bnns.direct_apply_lstm_batch_backward(params, delta, None, np.zeros(capacity, np.uint8))
    # Same capacity, other sizes: the batch and the sequence traded.
    other = dataclasses.replace(problem, batch=problem.seq_len, seq_len=problem.batch)
    other_params = other.layer_params()
    assert bnns.compute_lstm_training_cache_capacity(other_params) == capacity
    other_cache = np.zeros(capacity, np.uint8)
    forward(other_params, other_cache)
    delta, grads = problem.delta_params()
    with pytest.raises(ValueError, match="training_cache was written by a forward of another configuration"):
        bnns.direct_apply_lstm_batch_backward(params, delta, None, other_cache)
    assert np.isnan(grads["dx"]).all()  # nothing written


def test_a_cache_copied_elsewhere_still_reads_right():
    """The header locates the sections, so a cache moved to memory of another
    alignment (its sections no longer on a 64-byte boundary) gives the same
    gradients."""
    problem = Problem(num_layers=2, dropout=0.3, seed=4)
    params = problem.layer_params()
    capacity = bnns.compute_lstm_training_cache_capacity(params)
    cache = np.zeros(capacity, np.uint8)
    forward(params, cache)
    delta, grads = problem.delta_params()
    bnns.direct_apply_lstm_batch_backward(params, delta, None, cache)
    padded = np.zeros(capacity + 64, np.uint8)
    for shift in (4, 8, 36):
        start = (cache.ctypes.data + shift - padded.ctypes.data) % 64  # shift bytes past where cache lies
        moved = padded[start:start + capacity]
        moved[:] = cache
        delta, moved_grads = problem.delta_params()
        bnns.direct_apply_lstm_batch_backward(params, delta, None, moved)
        np.testing.assert_array_equal(moved_grads["dx"], grads["dx"])
        np.testing.assert_array_equal(moved_grads["forget_gate"]["hw_desc"], grads["forget_gate"]["hw_desc"])


def test_backward_checks_the_delta_descriptors_and_writes_nothing_on_failure():
    problem = Problem(peephole="diagonal", peephole_gates=(0,))
    params = problem.layer_params()
    delta, grads = problem.delta_params()
    delta.output_descriptor.data_desc = np.zeros((2, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"layer_delta_params.output_descriptor.data_desc has shape \(2, 2, 2\)"):
        bnns.direct_apply_lstm_batch_backward(params, delta)
    assert np.isnan(grads["dx"]).all() and np.isnan(grads["input_gate"]["hw_desc"]).all()
    delta, _ = problem.delta_params()
    delta.forget_gate.cw_desc = np.zeros((1, 1, 4), np.float32)
    with pytest.raises(ValueError, match="forget_gate.cw_desc is given but the layer has no peephole"):
        bnns.direct_apply_lstm_batch_backward(params, delta)
    delta, _ = problem.delta_params()
    delta.input_gate.hw_desc = np.zeros((1, 1, 4, 4), np.float64)
    with pytest.raises(ValueError, match="layer_delta_params.input_gate.hw_desc has dtype float64"):
        bnns.direct_apply_lstm_batch_backward(params, delta)


def test_overlapping_arrays_are_refused_and_nothing_is_written():
    # The kernels write y, dx and the gradients while they still read x, dy
    # and the weights: an overlap would be silently wrong, so it is refused.
    problem = Problem(input_size=4, hidden_size=4)
    params = problem.layer_params()
    x_before = problem.x.copy()
    params.output_descriptor.data_desc = problem.x
    with pytest.raises(ValueError, match="output_descriptor.data_desc overlaps input_descriptor.data_desc"):
        forward(params)
    np.testing.assert_array_equal(problem.x, x_before)
    shared = np.zeros((1, problem.batch + 1, 4), np.float32)  # hn one row past h0 in one buffer
    shared[:, :-1] = problem.h0
    params = problem.layer_params(hn=shared[:, 1:])
    params.input_descriptor.hidden_desc = shared[:, :-1]
    with pytest.raises(ValueError, match="output_descriptor.hidden_desc overlaps input_descriptor.hidden_desc"):
        forward(params)
    params = problem.layer_params()
    cache = np.zeros(bnns.compute_lstm_training_cache_capacity(params), np.uint8)
    params.candidate_gate.b_desc = cache[:16].view(np.float32).reshape(1, 1, 4)
    with pytest.raises(ValueError, match="training_cache overlaps candidate_gate.b_desc"):
        forward(params, cache)

    params = problem.layer_params()
    cache = np.zeros(bnns.compute_lstm_training_cache_capacity(params), np.uint8)
    forward(params, cache)
    delta, grads = problem.delta_params()
    delta.input_descriptor.data_desc = problem.dy  # dx written over dy
    dy_before = problem.dy.copy()
    with pytest.raises(ValueError, match="layer_delta_params.input_descriptor.data_desc overlaps "
                                         "layer_delta_params.output_descriptor.data_desc"):
        bnns.direct_apply_lstm_batch_backward(params, delta, None, cache)
    np.testing.assert_array_equal(problem.dy, dy_before)
    assert np.isnan(grads["input_gate"]["hw_desc"]).all()
    delta, grads = problem.delta_params()
    weights_before = params.output_gate.hw_desc.copy()
    delta.output_gate.hw_desc = params.output_gate.hw_desc  # a gradient over its weights
    with pytest.raises(ValueError, match="layer_delta_params.output_gate.hw_desc overlaps output_gate.hw_desc"):
        bnns.direct_apply_lstm_batch_backward(params, delta, None, cache)
    np.testing.assert_array_equal(params.output_gate.hw_desc, weights_before)
    assert np.isnan(grads["dx"]).all()
    delta, _ = problem.delta_params()
    delta.forget_gate.b_desc = cache[-16:].view(np.float32).reshape(1, 1, 4)  # a gradient into the cache
    with pytest.raises(ValueError, match="layer_delta_params.forget_gate.b_desc overlaps training_cache"):
        bnns.direct_apply_lstm_batch_backward(params, delta, None, cache)
