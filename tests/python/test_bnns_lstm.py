"""The CPU LSTM kernels through the BNNS front, against a float64 NumPy LSTM."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from lstm_reference import (AF, CACHE_HEADER_BYTES, CACHE_SLACK_BYTES, GATES, Problem, cache_masks, cache_sections,
                            relative_error)
from mpsnn import bnns

TOLERANCE = 1e-5  # float32 kernels against float64, norm-wise relative, per tensor


def run(problem, reference=False, cache=True, cache_offset=None):
    """Training forward then backward; returns outputs, cache and gradients.
    cache_offset: bytes past a 64-byte boundary where the cache starts (None:
    where NumPy puts it)."""
    filter_params = bnns.FilterParameters(use_reference_kernel=reference)
    L, D, H, B = problem.num_layers, problem.directions, problem.hidden_size, problem.batch
    y = np.full(problem.sequence_shape(D * H), np.nan, np.float32)  # poisoned: every element must be written
    hn = np.full((L * D, B, H), np.nan, np.float32)
    cn = np.full((L * D, B, H), np.nan, np.float32)
    params = problem.layer_params(y, hn, cn)
    capacity = bnns.compute_lstm_training_cache_capacity(params)
    padded = np.full(capacity + (0 if cache_offset is None else 128), 0xAB, np.uint8)
    training_cache = padded
    if cache_offset is not None:
        start = -padded.ctypes.data % 64 + cache_offset
        training_cache = padded[start:start + capacity]
    bnns.direct_apply_lstm_batch_training_caching(params, filter_params, training_cache)
    delta, grads = problem.delta_params()
    bnns.direct_apply_lstm_batch_backward(params, delta, filter_params, training_cache if cache else None)
    outside = np.concatenate([padded[:start], padded[start + capacity:]]) if cache_offset is not None else None
    return dict(y=y, hn=hn, cn=cn, cache=training_cache, grads=grads, outside_cache=outside)


def expected(problem, cache):
    masks, _ = cache_masks(problem, cache)
    y, hn, cn, tape = problem.forward64(masks)
    dx, dh0, dc0, dweights = problem.backward64(tape, masks)
    return dict(y=y, hn=hn, cn=cn, dx=dx, dh0=dh0, dc0=dc0, dweights=dweights)


def gradient_pairs(problem, result, want):
    """(name, actual, expected) for every gradient the backward wrote."""
    grads = result["grads"]
    yield "dx", grads["dx"], want["dx"]
    yield "dh0", grads["dh0"], want["dh0"]
    yield "dc0", grads["dc0"], want["dc0"]
    for k, gate in enumerate(GATES):
        arrays = problem.gate_arrays(k, source=want["dweights"])
        for key in ("hw_desc", "b_desc", "cw_desc"):
            if arrays[key] is not None:
                yield f"{gate}.{key}", grads[gate][key], arrays[key]
        for i, w in enumerate(arrays["iw_desc"]):
            if w is not None:
                yield f"{gate}.iw_desc[{i}]", grads[gate]["iw_desc"][i], w


def check(problem, reference=False, tolerance=TOLERANCE, cache_offset=None):
    result = run(problem, reference, cache_offset=cache_offset)
    want = expected(problem, result["cache"])
    failures = []
    for name in ("y", "hn", "cn"):
        error = relative_error(result[name], want[name])
        if not error < tolerance:
            failures.append(f"{name}: {error:.2e}")
    for name, actual, wanted in gradient_pairs(problem, result, want):
        error = relative_error(actual, wanted)
        if not error < tolerance:
            failures.append(f"{name}: {error:.2e}")
    assert not failures, f"relative errors over {tolerance}: " + ", ".join(failures)
    return result


A = bnns.Activation
SWEEP = {
    "default": Problem(),
    "peephole_diagonal": Problem(peephole="diagonal"),
    "peephole_full": Problem(peephole="full"),
    "peephole_some_gates": Problem(peephole="diagonal", peephole_gates=(0, 3)),
    "peephole_full_forget_only": Problem(peephole="full", peephole_gates=(1,)),
    "leaky_relu_and_hard_sigmoid": Problem(activations=(A(AF.hard_sigmoid, 0.2, 0.5), A(AF.sigmoid),
                                                        A(AF.leaky_rectified_linear, 0.1), A(AF.hard_sigmoid, 0.3, 0.4))),
    "scaled_tanh_linear_softsign": Problem(activations=(A(AF.sigmoid), A(AF.softsign),
                                                        A(AF.scaled_tanh, 1.5, 0.7), A(AF.linear_with_bias, 0.5, 0.2))),
    "softplus_elu_relu6": Problem(activations=(A(AF.softplus, 0.8, 1.2), A(AF.sigmoid), A(AF.elu, 1.0),
                                               A(AF.relu6))),
    "identity_gates": Problem(activations=(A(AF.identity), A(AF.sigmoid), A(AF.linear, 0.7), A(AF.sigmoid))),
    "hidden_identity": Problem(hidden_activation=A(AF.identity)),
    "hidden_abs": Problem(hidden_activation=A(AF.abs)),
    "hidden_softsign": Problem(hidden_activation=A(AF.softsign)),
    "hidden_scaled_tanh": Problem(hidden_activation=A(AF.scaled_tanh, 2.0, 0.5)),
    # Sigmoid gates and a·tanh(b·x) candidate and cell take the x86 fused passes:
    # here with a and b different for the two, peepholes from a zero first cell,
    # and a partial vector.
    "fused_scaled_tanhs": Problem(activations=(A(AF.sigmoid), A(AF.sigmoid), A(AF.scaled_tanh, 1.5, 0.7), A(AF.sigmoid)),
                                  hidden_activation=A(AF.scaled_tanh, 2.0, 0.5), peephole="diagonal", hidden_size=21,
                                  num_layers=2, initial_states=False),
    "two_layers": Problem(num_layers=2),
    "three_layers_input_eq_hidden": Problem(num_layers=3, input_size=4),
    "bidirectional": Problem(bidirectional=True),
    "bidirectional_two_layers_peephole": Problem(bidirectional=True, num_layers=2, peephole="diagonal"),
    "bidirectional_three_layers_full": Problem(bidirectional=True, num_layers=3, peephole="full", seq_len=4),
    "dropout": Problem(num_layers=3, dropout=0.3, seed=7),
    "dropout_bidirectional": Problem(num_layers=2, bidirectional=True, dropout=0.5, seed=3),
    "zero_initial_states": Problem(initial_states=False, num_layers=2),
    "seq_len_1": Problem(seq_len=1, num_layers=2, peephole="full"),
    "batch_1": Problem(batch=1, bidirectional=True),
    "batch_first": Problem(batch_first=True, num_layers=2, bidirectional=True),
    "wider": Problem(input_size=17, hidden_size=24, batch=5, seq_len=9, num_layers=2, peephole="diagonal"),
    # Steps of 1+ MFLOP are shared among threads: by hidden units with a barrier
    # a step ("threaded"), or, at 8+ rows a thread (4+ when U fits L2), by batch
    # rows with the input projection inside the step ("rows_split").
    # test_threaded_plans_with_two_threads
    # runs these in a pool of two threads, so that they take those paths anywhere.
    "threaded_full_peephole": Problem(input_size=9, hidden_size=256, batch=4, seq_len=4, num_layers=2,
                                      bidirectional=True, peephole="full", scale=0.1),
    "threaded_dropout_nse": Problem(input_size=33, hidden_size=256, batch=4, seq_len=5, num_layers=2,
                                    dropout=0.3, batch_first=True, peephole="diagonal", scale=0.1),
    "rows_split": Problem(input_size=20, hidden_size=128, batch=16, seq_len=5, num_layers=2, bidirectional=True,
                          peephole="diagonal", scale=0.15),
    "rows_split_small_batch": Problem(input_size=20, hidden_size=64, batch=10, seq_len=5, num_layers=2,
                                      bidirectional=True, peephole="diagonal", scale=0.2),
    # In a pool of 8 threads, 6 slices of 2-3 rows: more parts than slices of
    # 4 rows (4) or of units (5) would make (test_two_row_slices_with_eight_threads).
    "rows_split_two_rows": Problem(input_size=24, hidden_size=80, batch=16, seq_len=4, bidirectional=True,
                                   peephole="diagonal", scale=0.1),
    # One to three rows against 80+ columns: the kernel takes several panels
    # at once (one gate's 144 columns abut the next's; 100 do not).
    "one_row_many_panels": Problem(input_size=40, hidden_size=144, batch=1, seq_len=3, peephole="diagonal",
                                   scale=0.1),
    "three_rows_many_panels": Problem(input_size=70, hidden_size=100, batch=3, seq_len=3, bidirectional=True,
                                      scale=0.1),
    # Four to eight rows too (AVX-512): 5 rows take 3 panels at once (144 columns
    # abut), 7 rows 2 (100 do not; dx and the projection in 7-row tiles).
    "five_rows_many_panels": Problem(input_size=30, hidden_size=144, batch=5, seq_len=3, peephole="diagonal",
                                     scale=0.1),
    "seven_rows_many_panels": Problem(input_size=70, hidden_size=100, batch=7, seq_len=3, bidirectional=True,
                                      scale=0.1),
    # W and U past a quarter of L3 (8 MB): dx after the backward loop, not in it.
    "rows_split_large_weights": Problem(input_size=600, hidden_size=520, batch=16, seq_len=3, scale=0.05),
    "rows_split_nse_full_dropout": Problem(input_size=9, hidden_size=128, batch=17, seq_len=4, num_layers=2,
                                           batch_first=True, peephole="full", dropout=0.3, scale=0.15),
    # By units with more rows than the kernel holds (AVX2: 6): the parts share
    # one transposition of h and of the gate gradients, each its own columns.
    "threaded_shared_transpose": Problem(input_size=40, hidden_size=264, batch=13, seq_len=4, bidirectional=True,
                                         peephole="full", scale=0.1),
    # Weight gradients over more than one block of steps (T·B > 1024) and of
    # columns (I + H > 512, neither a multiple of 16), both directions.
    "threaded_long_weight_gradient": Problem(input_size=300, hidden_size=248, batch=5, seq_len=210,
                                             bidirectional=True, scale=0.05),
    "threaded_long_weight_gradient_zero_states": Problem(input_size=40, hidden_size=24, batch=3, seq_len=400,
                                                         bidirectional=True, initial_states=False, scale=0.2),
}


@pytest.mark.parametrize("name", list(SWEEP))
def test_fast_kernel_against_float64(name):
    check(dataclasses.replace(SWEEP[name], seed=SWEEP[name].seed + 100))


@pytest.mark.parametrize("schedule", ["stealing", "others_first"])
def test_threaded_plans_with_two_threads(schedule):
    """The threaded and rows_split configurations in a process whose pool has
    two threads. With others_first each thread takes the other's rows of the
    input projection, of dx and of the weight gradients before its own: the
    path a thread takes when it finishes early, every time rather than when the
    machine happens to make one thread slower."""
    env = dict(os.environ, MPSNN_NUM_THREADS="2", MPSNN_CPU_SCHEDULE=schedule)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                             "-k", "(test_fast_kernel_against_float64 and (rows_split or threaded))"
                                   " or test_results_do_not_depend_on_where_the_cache_lies"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout, result.stdout


def test_two_row_slices_with_eight_threads():
    """rows_split_two_rows where a pool of 8 threads splits its 16 rows into 6 slices of 2-3."""
    env = dict(os.environ, MPSNN_NUM_THREADS="8", MPSNN_VERBOSE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", __file__,
                             "-k", "test_fast_kernel_against_float64 and rows_split_two_rows"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout, result.stdout
    plans = {line for line in result.stderr.splitlines() if "LSTM recurrence" in line}
    assert plans == {"mpsnn: LSTM recurrence, H=80 B=16: 6 part(s), by batch rows"}, result.stderr


def test_results_do_not_depend_on_where_the_cache_lies():
    """The header starts the sections on a 64-byte boundary wherever the cache
    lies (odd addresses too), and nothing is written outside the cache: every
    placement gives the same bits, where the forward streams its gates into
    the cache (rows_split, on two threads), writes its slice of units there
    (two slices of 64 units) or copies its slice there (slices of 64 and 56
    units, whose edges share lines)."""
    rows_split = dataclasses.replace(SWEEP["rows_split"], peephole=None, num_layers=1, bidirectional=False)
    whole_line_units = Problem(input_size=20, hidden_size=128, batch=4, seq_len=5, peephole="diagonal", scale=0.15)
    narrow_units = dataclasses.replace(whole_line_units, hidden_size=120)  # 64 + 56, edges inside lines

    def arrays(result):
        grads = result["grads"]
        named = {name: result[name] for name in ("y", "hn", "cn")}
        named["cache sections"] = cache_sections(result["cache"])[:cache_masks(problem, result["cache"])[1]]
        named.update({name: grads[name] for name in ("dx", "dh0", "dc0")})
        for gate in GATES:
            named.update({f"{gate}.{key}": grads[gate][key] for key in ("hw_desc", "b_desc")})
            named[f"{gate}.iw_desc[0]"] = grads[gate]["iw_desc"][0]
        return named

    for problem in (rows_split, whole_line_units, narrow_units):
        aligned = arrays(check(problem, cache_offset=0))
        for offset in [*range(4, 64, 4), 1, 49, 63]:  # 49: the header's longest offset, 79
            result = run(problem, cache_offset=offset)
            assert np.all(result["outside_cache"] == 0xAB), f"written outside the cache at +{offset} bytes"
            for name, array in arrays(result).items():
                np.testing.assert_array_equal(array, aligned[name], err_msg=f"{name}, cache at +{offset} bytes")


NARROW_SWEEP = ["wider", "fused_scaled_tanhs", "peephole_full", "batch_first", "threaded_full_peephole",
                "rows_split_small_batch", "threaded_long_weight_gradient", "threaded_shared_transpose", "one_row_many_panels",
                "three_rows_many_panels"]


@pytest.mark.parametrize("kernels", ["avx2", "generic"])
def test_narrower_cpu_kernels(kernels):
    """The packed kernels hold 6 (AVX2) or 3 (generic) rows in registers rather
    than 16, gemm_tn's grouped gate gradients are that wide, and the
    element-wise passes (their own sigmoid and tanh, streaming stores) are
    built for that instruction set: the same checks with those kernels
    (MPSNN_CPU_KERNELS), on two threads, NaN, infinities and every cache
    alignment included."""
    env = dict(os.environ, MPSNN_NUM_THREADS="2", MPSNN_CPU_KERNELS=kernels)
    names = " or ".join(f"[{name}]" for name in NARROW_SWEEP)
    edges = ["test_nan_in_the_input_propagates_without_a_crash",
             "test_saturated_and_infinite_pre_activations_reach_their_limits",
             "test_results_do_not_depend_on_where_the_cache_lies"]
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                             "-k", f"(test_fast_kernel_against_float64 and ({names})) or " + " or ".join(edges)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(NARROW_SWEEP) + len(edges)} passed" in result.stdout, result.stdout


@pytest.mark.parametrize("name", ["default", "peephole_full", "dropout", "bidirectional_three_layers_full",
                                  "batch_first", "softplus_elu_relu6", "hidden_abs", "zero_initial_states"])
def test_reference_kernel_against_float64(name):
    check(SWEEP[name], reference=True)


def test_fast_and_reference_kernels_agree_and_share_the_cache_format():
    problem = Problem(num_layers=2, bidirectional=True, peephole="full", dropout=0.25, seed=11)
    fast, reference = run(problem), run(problem, reference=True)
    for result in (fast, reference):  # the header, then the sections on a 64-byte boundary
        assert result["cache"][:4].tobytes() == b"MPSM"
        assert CACHE_HEADER_BYTES <= len(result["cache"]) - len(cache_sections(result["cache"])) <= CACHE_SLACK_BYTES
        assert cache_sections(result["cache"]).ctypes.data % 64 == 0
    assert relative_error(fast["y"], reference["y"]) < TOLERANCE
    # Each kernel's backward reads the other's cache.
    params = problem.layer_params()
    for producer, consumer in ((True, False), (False, True)):
        cache = np.zeros(bnns.compute_lstm_training_cache_capacity(params), np.uint8)
        bnns.direct_apply_lstm_batch_training_caching(params, bnns.FilterParameters(producer), cache)
        delta, grads = problem.delta_params()
        bnns.direct_apply_lstm_batch_backward(params, delta, bnns.FilterParameters(consumer), cache)
        assert relative_error(grads["dx"], fast["grads"]["dx"]) < TOLERANCE
        assert relative_error(grads["forget_gate"]["hw_desc"], fast["grads"]["forget_gate"]["hw_desc"]) < TOLERANCE


def test_backward_without_a_cache_recomputes_the_forward():
    problem = Problem(num_layers=2, peephole="diagonal", dropout=0.2, seed=5)
    with_cache, without = run(problem), run(problem, cache=False)
    for name in ("dx", "dh0", "dc0"):
        np.testing.assert_array_equal(without["grads"][name], with_cache["grads"][name])
    for gate in GATES:
        for key in ("hw_desc", "b_desc", "cw_desc"):
            np.testing.assert_array_equal(without["grads"][gate][key], with_cache["grads"][gate][key])


def test_inference_forward_matches_the_training_forward():
    problem = Problem(num_layers=3, bidirectional=True, peephole="full")
    trained = run(problem)
    D, H = problem.directions, problem.hidden_size
    y = np.full(problem.sequence_shape(D * H), np.nan, np.float32)
    hn = np.full_like(trained["hn"], np.nan)
    bnns.direct_apply_lstm_batch_training_caching(problem.layer_params(y, hn))
    np.testing.assert_array_equal(y, trained["y"])
    np.testing.assert_array_equal(hn, trained["hn"])


def test_training_cache_capacity_is_exactly_the_documented_formula():
    for problem in (Problem(), Problem(num_layers=3, bidirectional=True, dropout=0.5, hidden_size=7, batch=3),
                    Problem(num_layers=2, dropout=0.0, seq_len=13)):
        capacity = bnns.compute_lstm_training_cache_capacity(problem.layer_params())
        cache = np.empty(capacity, np.uint8)
        bnns.direct_apply_lstm_batch_training_caching(problem.layer_params(), None, cache)
        assert cache_sections(cache).ctypes.data % 64 == 0
        assert capacity == cache_masks(problem, cache)[1] + CACHE_SLACK_BYTES
        T, B, H, D, L = problem.seq_len, problem.batch, problem.hidden_size, problem.directions, problem.num_layers
        needed = L * (D * T * B * 5 * H * 4 + T * B * D * H * 4) + (L - 1) * T * B * D * H * (problem.dropout > 0)
        sections = L * (2 * D + 1) + (L - 1) * (problem.dropout > 0)
        assert needed <= capacity - CACHE_SLACK_BYTES <= needed + 63 * sections


def test_dropout_masks_are_seeded_and_keep_the_expected_fraction():
    base = Problem(num_layers=2, dropout=0.4, seed=1, hidden_size=16, batch=8, seq_len=20)
    first, again = run(base), run(base)
    np.testing.assert_array_equal(first["y"], again["y"])
    mask = cache_masks(base, first["cache"])[0][1]
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert abs(mask.mean() - 0.6) < 0.05
    other = cache_masks(base, run(dataclasses.replace(base, seed=2))["cache"])[0][1]
    assert (mask != other).mean() > 0.2


def test_nan_in_the_input_propagates_without_a_crash():
    problem = Problem(num_layers=2)
    problem.x[2, 1, 0] = np.nan
    result = run(problem)
    assert np.isnan(result["y"][2:, 1]).all()
    assert np.isfinite(result["y"][:2]).all() and np.isfinite(result["y"][:, 0]).all()
    assert np.isnan(result["grads"]["input_gate"]["hw_desc"]).any()


def test_saturated_and_infinite_pre_activations_reach_their_limits():
    """Gates far outside the activations' range (|x| ~ 100) and ±inf (from infinite inputs) saturate
    as in float64, in the fast kernel's vector activations, tails (H = 20) included."""
    problem = Problem(input_size=3, hidden_size=20, batch=3, seq_len=5, scale=8.0)
    problem.x[1, 0, 0], problem.x[3, 2, 1] = np.inf, -np.inf
    result = run(problem)
    masks, _ = cache_masks(problem, result["cache"])
    with np.errstate(over="ignore", invalid="ignore"):
        y, hn, cn, _ = problem.forward64(masks)
    assert np.isfinite(result["y"]).all()
    for name, want in (("y", y), ("hn", hn), ("cn", cn)):
        assert relative_error(result[name], want) < TOLERANCE, name


# ---- finite differences ----------------------------------------------------

def loss64(problem, weights=None, x=None, h0=None, c0=None, masks=None):
    y, hn, cn, _ = problem.forward64(masks, weights, x, h0, c0)
    dy = np.float64(problem.dy)
    return float((y * dy).sum() + (hn * problem.dhn).sum() + (cn * problem.dcn).sum())


FD_CASES = {
    "default": Problem(seq_len=3, batch=2, hidden_size=3, input_size=2),
    "peephole_diagonal": Problem(seq_len=3, batch=2, hidden_size=3, input_size=2, peephole="diagonal"),
    "peephole_full_bidirectional": Problem(seq_len=3, batch=2, hidden_size=3, input_size=2, peephole="full",
                                           bidirectional=True),
    "activations": Problem(seq_len=3, batch=2, hidden_size=3, input_size=2,
                           activations=SWEEP["scaled_tanh_linear_softsign"].activations,
                           hidden_activation=A(AF.softsign)),
    "two_layers_dropout": Problem(seq_len=3, batch=2, hidden_size=3, input_size=2, num_layers=2, dropout=0.5, seed=4),
}


@pytest.mark.parametrize("name", list(FD_CASES))
def test_float64_reference_gradients_match_finite_differences(name):
    """The reference's backpropagation is right, so comparing kernels with it means something."""
    problem = FD_CASES[name]
    rng = np.random.default_rng(0)
    masks = {l: (rng.random((problem.seq_len, problem.batch, problem.directions * problem.hidden_size)) > problem.dropout)
             .astype(np.float64) for l in range(1, problem.num_layers)}
    _, _, _, tape = problem.forward64(masks)
    dx, dh0, dc0, dweights = problem.backward64(tape, masks)
    weights = [[[{k: None if v is None else np.float64(v) for k, v in g.items()} for g in d] for d in l]
               for l in problem.weights]
    eps = 1e-6

    def numeric(array, index, **kwargs):
        saved = array[index]
        array[index] = saved + eps
        plus = loss64(problem, weights, masks=masks, **kwargs)
        array[index] = saved - eps
        minus = loss64(problem, weights, masks=masks, **kwargs)
        array[index] = saved
        return (plus - minus) / (2 * eps)

    checks = []
    for l, d, k, key in ((problem.num_layers - 1, problem.directions - 1, 3, "U"), (0, 0, 0, "W"),
                         (0, 0, 1, "b"), (0, 0, 3, "V"), (0, 0, 0, "V")):
        if weights[l][d][k][key] is None:
            continue
        array = weights[l][d][k][key]
        for index in list(np.ndindex(array.shape))[:6]:
            checks.append((numeric(array, index), dweights[l][d][k][key][index]))
    x, h0, c0 = np.float64(problem.x), np.float64(problem.h0), np.float64(problem.c0)
    for index in list(np.ndindex(x.shape))[:5]:
        checks.append((numeric(x, index, x=x), dx[index]))
    for index in list(np.ndindex(h0.shape))[-4:]:
        checks.append((numeric(h0, index, h0=h0), dh0[index]))
        checks.append((numeric(c0, index, c0=c0), dc0[index]))
    numeric_values, analytic = map(np.array, zip(*checks))
    assert relative_error(analytic, numeric_values) < 1e-7


def test_float32_kernel_gradients_match_finite_differences_of_the_kernel():
    """Through the public API alone: loss differences of the kernel's own float32 forward."""
    problem = Problem(seq_len=4, batch=2, hidden_size=3, input_size=3, peephole="diagonal", num_layers=2, seed=9)
    result = run(problem)

    def loss():
        D, H = problem.directions, problem.hidden_size
        y = np.zeros(problem.sequence_shape(D * H), np.float32)
        hn, cn = np.zeros_like(problem.dhn), np.zeros_like(problem.dcn)
        bnns.direct_apply_lstm_batch_training_caching(problem.layer_params(y, hn, cn))
        return float((np.float64(y) * problem.dy).sum() + (np.float64(hn) * problem.dhn).sum()
                     + (np.float64(cn) * problem.dcn).sum())

    eps, pairs = 1e-2, []
    targets = [(problem.weights[1][0][2]["U"], result["grads"]["candidate_gate"]["hw_desc"][1, 0]),
               (problem.weights[0][0][0]["V"], result["grads"]["input_gate"]["cw_desc"][0, 0]),
               (problem.x, result["grads"]["dx"])]
    for array, grad in targets:
        for index in list(np.ndindex(array.shape))[:4]:
            saved = array[index]
            array[index] = saved + eps
            plus = loss()
            array[index] = saved - eps
            minus = loss()
            array[index] = saved
            pairs.append(((plus - minus) / (2 * eps), grad[index]))
    numeric, analytic = map(np.array, zip(*pairs))
    assert relative_error(analytic, numeric) < 1e-2  # float32 central differences


def test_only_the_gradients_asked_for_are_written_and_they_are_right():
    problem = Problem(num_layers=2, bidirectional=True, peephole="diagonal", seed=21)
    full = run(problem)
    params = problem.layer_params()
    cache = np.zeros(bnns.compute_lstm_training_cache_capacity(params), np.uint8)
    bnns.direct_apply_lstm_batch_training_caching(params, None, cache)
    delta, grads = problem.delta_params()
    delta.input_descriptor = bnns.LSTMDataDescriptor()  # no dx, dh0, dc0
    for gate in ("input_gate", "candidate_gate", "output_gate"):
        setattr(delta, gate, bnns.LSTMGateDescriptor())
    delta.forget_gate.hw_desc = None  # only the forget gate's W, b and V
    bnns.direct_apply_lstm_batch_backward(params, delta, None, cache)
    for key in ("b_desc", "cw_desc"):
        np.testing.assert_allclose(grads["forget_gate"][key], full["grads"]["forget_gate"][key], rtol=1e-6, atol=1e-7)
    for i in range(2):
        np.testing.assert_allclose(grads["forget_gate"]["iw_desc"][i], full["grads"]["forget_gate"]["iw_desc"][i],
                                   rtol=1e-6, atol=1e-7)
    assert np.isnan(grads["forget_gate"]["hw_desc"]).all()  # not asked for: untouched
    assert np.isnan(grads["dx"]).all() and np.isnan(grads["output_gate"]["b_desc"]).all()
