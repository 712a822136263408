"""mpsnn.optim beyond the formulas (test_optim.py): states saved and restored,
learning-rate schedules, and bad input, which must raise a clear exception and
leave weights, states and Adam's time step as they were."""

import math

import numpy as np
import pytest

import mpsnn

optim = mpsnn.optim


def run(queue, optimizer, *args):
    buffer = queue.make_command_buffer()
    optimizer.encode(buffer, *args)
    buffer.commit()
    buffer.wait_until_completed()


def matrix(cpu, rng, *shape, dtype=np.float32):
    return mpsnn.Matrix.from_numpy(cpu, rng.standard_normal(shape).astype(dtype))


def test_names_and_aliases(cpu):
    assert optim.SGD is optim.OptimizerStochasticGradientDescent is mpsnn.SGD
    assert optim.Adam is optim.OptimizerAdam is mpsnn.Adam
    assert optim.RMSProp is optim.OptimizerRMSProp is mpsnn.RMSProp
    adam = optim.Adam(cpu)  # Apple's defaults
    assert (adam.learning_rate, adam.beta1, adam.beta2, adam.time_step) == (pytest.approx(1e-3), 0.9, 0.999, 0)
    assert adam.epsilon == pytest.approx(1e-8) and adam.kind == mpsnn.OptimizerKind.adam
    rms = optim.RMSProp(cpu, 0.01)
    assert rms.decay == 0.9 and rms.learning_rate == pytest.approx(0.01)
    d = mpsnn.OptimizerDescriptor(learning_rate=0.5, regularization_type=mpsnn.RegularizationType.l2,
                                  regularization_scale=0.1)
    sgd = optim.SGD(cpu, 0.25, momentum_scale=0.5, optimizer_descriptor=d)  # the rate overrides d's
    assert sgd.learning_rate == 0.25 and sgd.regularization_type == mpsnn.RegularizationType.l2
    assert "momentum_scale=0.5" in repr(sgd) and "learning_rate=0.25" in repr(sgd)
    sgd.descriptor.learning_rate = -1.0  # a copy: the optimizer keeps its own
    assert sgd.learning_rate == 0.25


# ---- states ----

def test_state_matrices_per_kind(cpu, rng):
    w = matrix(cpu, rng, 3, 4)
    assert optim.SGD(cpu, 0.1).make_state(w).names == []  # no momentum: w -= lr * g
    assert optim.SGD(cpu, 0.1, momentum_scale=0.9).make_state(w).names == ["momentum"]
    assert optim.RMSProp(cpu).make_state(w).names == ["sum_of_squares"]
    assert optim.Adam(cpu).make_state(w).names == ["momentum", "velocity"]
    state = optim.Adam(cpu).make_state(w, maximum_velocity=True)
    assert state.names == ["momentum", "velocity", "maximum_velocity"] and "velocity" in state
    assert state["velocity"].shape == (3, 4) and not state["velocity"].to_numpy().any()
    batched = optim.RMSProp(cpu).make_state(matrix(cpu, rng, 2, 3, 4))
    assert batched["sum_of_squares"].shape == (2, 3, 4)


def test_a_state_can_wrap_caller_matrices(cpu, queue, rng):
    m, v = np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32)
    state = mpsnn.OptimizerState(mpsnn.OptimizerKind.adam, momentum=mpsnn.Matrix.from_numpy(cpu, m),
                                 velocity=mpsnn.Matrix.from_numpy(cpu, v))
    g = rng.standard_normal((2, 3)).astype(np.float32)
    run(queue, optim.Adam(cpu, beta1=0.5, beta2=0.75), mpsnn.Matrix.from_numpy(cpu, g),
        matrix(cpu, rng, 2, 3), state)
    np.testing.assert_allclose(m, 0.5 * g, rtol=1e-6)      # the update wrote the caller's arrays
    np.testing.assert_allclose(v, 0.25 * g * g, rtol=1e-6)


def train(queue, optimizer, weights, states, gradients):
    for g in gradients:
        run(queue, optimizer, [mpsnn.Matrix.from_numpy(optimizer.device, x) for x in g], weights, states)


def test_saved_state_resumes_training_exactly(cpu, queue, rng):
    shapes = [(5, 7), (2, 3, 4)]
    gradients = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(12)]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    weights = [mpsnn.Matrix.from_numpy(cpu, a) for a in arrays]
    adam = optim.Adam(cpu, 0.01)
    states = [adam.make_state(weights[0], maximum_velocity=True), adam.make_state(weights[1])]
    train(queue, adam, weights, states, gradients[:6])
    saved = [s.state_dict() for s in states]
    saved_weights, saved_step = [a.copy() for a in arrays], adam.time_step
    assert saved[0]["kind"] == "adam" and set(saved[0]) == {"kind", "momentum", "velocity", "maximum_velocity"}
    train(queue, adam, weights, states, gradients[6:])

    resumed = optim.Adam(cpu, 0.01, time_step=saved_step)
    again = [mpsnn.Matrix.from_numpy(cpu, a) for a in saved_weights]
    restored = [resumed.load_state(w, d) for w, d in zip(again, saved)]
    assert restored[0].names == states[0].names and restored[1].names == states[1].names
    train(queue, resumed, again, restored, gradients[6:])
    for a, b in zip(arrays, saved_weights):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_checks_everything_before_copying(cpu, rng):
    w = matrix(cpu, rng, 3, 4)
    state = optim.Adam(cpu).make_state(w)
    good = {"kind": "adam", "momentum": np.ones((3, 4)), "velocity": np.full((3, 4), 2.0)}
    state.load_state_dict(good)  # float64 is converted
    np.testing.assert_array_equal(state["velocity"].to_numpy(), np.full((3, 4), 2.0, np.float32))
    bad = [
        ({**good, "kind": "rms_prop"}, "state_dict is for kind 'rms_prop' but this state belongs to adam"),
        ({k: v for k, v in good.items() if k != "kind"}, "state_dict is for kind \\(none\\)"),
        ({k: v for k, v in good.items() if k != "velocity"}, "state_dict lacks 'velocity'"),
        ({**good, "maximum_velocity": np.ones((3, 4))}, "has 'maximum_velocity', which this adam state lacks"),
        ({**good, "velocity": np.ones((4, 3))}, r"velocity'\] has shape \(4, 3\); this state's velocity is \(3, 4\)"),
        ({**good, "velocity": np.ones((3, 4), np.int32)}, "velocity'\\] has dtype int32; expected a floating"),
        ({**good, "velocity": [[1.0] * 4] * 3}, "velocity'\\] must be a numpy.ndarray"),
        ([("kind", "adam")], "state_dict must be a dict"),
    ]
    for value, message in bad:
        with pytest.raises(ValueError, match=message):
            state.load_state_dict(value)
    np.testing.assert_array_equal(state["momentum"].to_numpy(), np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(state["velocity"].to_numpy(), np.full((3, 4), 2.0, np.float32))
    with pytest.raises(ValueError, match="state_dict lacks 'momentum'"):
        optim.SGD(cpu, 0.1, momentum_scale=0.9).load_state(w, {"kind": "stochastic_gradient_descent"})
    with pytest.raises(ValueError, match=r"has shape \(3, 4\); this state's sum_of_squares is \(4, 4\)"):
        optim.RMSProp(cpu).load_state(matrix(cpu, rng, 4, 4), optim.RMSProp(cpu).make_state(w).state_dict())


# ---- schedules ----

def test_schedules_match_torch(cpu):
    """Exact base rates here, since an optimizer's own rate is float32."""
    torch = pytest.importorskip("torch")
    cases = [
        (lambda o: optim.StepSchedule(o, step_size=3, gamma=0.5, base_learning_rate=0.1),
         lambda t: torch.optim.lr_scheduler.StepLR(t, step_size=3, gamma=0.5)),
        (lambda o: optim.ExponentialSchedule(o, gamma=0.9, base_learning_rate=0.1),
         lambda t: torch.optim.lr_scheduler.ExponentialLR(t, gamma=0.9)),
        (lambda o: optim.CosineSchedule(o, total_steps=20, minimum=0.001, base_learning_rate=0.1),
         lambda t: torch.optim.lr_scheduler.CosineAnnealingLR(t, T_max=20, eta_min=0.001)),
    ]
    for ours, theirs in cases:
        schedule = ours(optim.SGD(cpu, 0.1))
        peer_optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        peer = theirs(peer_optimizer)
        for step in range(1, 21):
            peer_optimizer.step()
            peer.step()
            expected = peer.get_last_lr()[0]
            assert schedule.step() == pytest.approx(expected, rel=1e-12, abs=1e-15)
            assert schedule.optimizer.learning_rate == pytest.approx(expected, rel=1e-6)  # float32
            assert schedule.step_count == step and schedule.learning_rate(step) == pytest.approx(expected)


def test_cosine_schedule_rests_at_its_minimum(cpu):
    schedule = optim.CosineSchedule(optim.Adam(cpu, 0.2), total_steps=4, minimum=0.05)
    rates = [schedule.step() for _ in range(7)]
    assert schedule.learning_rate(0) == pytest.approx(0.2)
    assert rates[1] == pytest.approx(0.125) and rates[3:] == [pytest.approx(0.05)] * 4


@pytest.mark.parametrize("make, message", [
    (lambda o: optim.StepSchedule(o, step_size=0), "step_size must be a positive integer"),
    (lambda o: optim.StepSchedule(o, step_size=2.5), "step_size must be a positive integer"),
    (lambda o: optim.StepSchedule(o, 2, gamma=0.0), "gamma must be finite and > 0"),
    (lambda o: optim.ExponentialSchedule(o, gamma=math.nan), "gamma must be finite"),
    (lambda o: optim.CosineSchedule(o, total_steps=-1), "total_steps must be a positive integer"),
    (lambda o: optim.CosineSchedule(o, 10, minimum=-0.1), "minimum must be finite and >= 0"),
    (lambda o: optim.ExponentialSchedule(o, 0.9, base_learning_rate=-1), "base_learning_rate must be"),
])
def test_schedule_arguments(cpu, make, message):
    with pytest.raises(ValueError, match=message):
        make(optim.SGD(cpu, 0.1))


# ---- bad input ----

@pytest.mark.parametrize("make, message", [
    (lambda d: optim.SGD(d, -0.1), r"\[sgd\] learning_rate must be finite and >= 0; got -0.1"),
    (lambda d: optim.Adam(d, math.nan), r"\[adam\] learning_rate must be finite"),
    (lambda d: optim.SGD(d, 0.1, momentum_scale=-0.5), r"\[sgd\] momentum_scale must be finite and >= 0"),
    (lambda d: optim.Adam(d, beta1=1.0), r"\[adam\] beta1 must be in \[0, 1\); got 1"),
    (lambda d: optim.Adam(d, beta1=-0.1), r"\[adam\] beta1 must be in \[0, 1\)"),
    (lambda d: optim.Adam(d, beta2=math.nan), r"\[adam\] beta2 must be in \[0, 1\); got nan"),
    (lambda d: optim.Adam(d, beta2=1.5), r"\[adam\] beta2 must be in \[0, 1\)"),
    (lambda d: optim.Adam(d, epsilon=-1e-8), r"\[adam\] epsilon must be finite and >= 0"),
    (lambda d: optim.Adam(d, time_step=-1), "time_step must be >= 0; got -1"),
    (lambda d: optim.RMSProp(d, decay=1.0), r"\[rms_prop\] decay must be in \[0, 1\)"),
    (lambda d: optim.RMSProp(d, epsilon=math.inf), r"\[rms_prop\] epsilon must be finite"),
    (lambda d: mpsnn.OptimizerDescriptor(learning_rate=-1.0), "learning_rate must be finite and >= 0"),
    (lambda d: mpsnn.OptimizerDescriptor(apply_gradient_clipping=True, gradient_clip_max=-1.0,
                                         gradient_clip_min=1.0), "gradient_clip_min .1. must not exceed"),
    (lambda d: mpsnn.OptimizerDescriptor(gradient_clip_min=math.nan), "gradient_clip_min"),
    (lambda d: mpsnn.OptimizerDescriptor(gradient_rescale=math.inf), "gradient_rescale must be finite"),
    (lambda d: mpsnn.OptimizerDescriptor(regularization_scale=-0.1), "regularization_scale must be finite and >= 0"),
])
def test_bad_hyperparameters(cpu, make, message):
    with pytest.raises(ValueError, match=message):
        make(cpu)


def test_a_descriptor_changed_after_it_was_made_is_checked_again(cpu):
    d = mpsnn.OptimizerDescriptor()
    d.learning_rate = -0.5
    with pytest.raises(ValueError, match=r"\[rms_prop\] learning_rate must be finite and >= 0"):
        optim.RMSProp(cpu, optimizer_descriptor=d)
    adam = optim.Adam(cpu, 0.01)
    with pytest.raises(ValueError, match=r"\[adam\] learning_rate must be finite and >= 0; got -1"):
        adam.learning_rate = -1.0
    with pytest.raises(ValueError, match="time_step must be >= 0"):
        adam.time_step = -3
    assert adam.learning_rate == pytest.approx(0.01) and adam.time_step == 0


class TestBadEncode:
    """Each failed encode must leave weights, state and time step untouched."""

    @pytest.fixture
    def setup(self, cpu, queue, rng):
        self.cpu, self.queue = cpu, queue
        self.w = rng.standard_normal((3, 4)).astype(np.float32)
        self.weights = mpsnn.Matrix.from_numpy(cpu, self.w)
        self.gradient = matrix(cpu, rng, 3, 4)
        self.adam = optim.Adam(cpu, 0.1, time_step=7)
        self.state = self.adam.make_state(self.weights, maximum_velocity=True)
        self.state.load_state_dict({"kind": "adam", **{n: np.full((3, 4), 0.5) for n in self.state.names}})
        self.before = self.w.copy()
        yield
        np.testing.assert_array_equal(self.w, self.before)
        for name in self.state.names:
            np.testing.assert_array_equal(self.state[name].to_numpy(), np.full((3, 4), 0.5, np.float32))
        assert self.adam.time_step == 7

    def fails(self, message, *args, error=ValueError):
        with pytest.raises(error, match=message):
            self.adam.encode(self.queue.make_command_buffer(), *args)

    def test_shapes(self, setup, rng):
        self.fails(r"\[adam\] gradient is 3x5 but weights is 3x4", matrix(self.cpu, rng, 3, 5), self.weights, self.state)
        self.fails(r"gradient is 2x3x4 but weights is 3x4", matrix(self.cpu, rng, 2, 3, 4), self.weights, self.state)
        other = self.adam.make_state(matrix(self.cpu, rng, 4, 4))
        self.fails(r"\[adam\] state momentum is 4x4 but weights is 3x4", self.gradient, self.weights, other)

    def test_a_state_from_another_optimizer(self, setup):
        sgd_state = optim.SGD(self.cpu, 0.1, momentum_scale=0.9).make_state(self.weights)
        self.fails(r"\[adam\] state was made for stochastic_gradient_descent; this optimizer needs a state "
                   "of kind adam", self.gradient, self.weights, sgd_state)
        rms_state = optim.RMSProp(self.cpu).make_state(self.weights)
        self.fails(r"states\[1\] was made for rms_prop", [self.gradient] * 2,
                   [self.weights, mpsnn.Matrix(self.cpu, 3, 4)], [self.state, rms_state])

    def test_data_types(self, setup, rng):
        half = matrix(self.cpu, rng, 3, 4, dtype=np.float16)
        self.fails("gradient has data type float16; expected float32", half, self.weights, self.state)
        self.fails("weights has data type float16", self.gradient, half, self.state)
        with pytest.raises(ValueError, match=r"\[sgd\] weights has data type float16"):
            optim.SGD(self.cpu, 0.1).make_state(half)

    def test_lists(self, setup):
        self.fails("one entry per weight matrix; got 2, 1 and 1", [self.gradient] * 2, [self.weights], [self.state])
        self.fails("weights is empty", [], [], [])
        self.fails("incompatible function arguments", [self.gradient], self.weights, [self.state], error=TypeError)
        self.fails("incompatible function arguments", np.ones((3, 4), np.float32), self.weights, self.state,
                   error=TypeError)

    def test_memory_written_by_the_update_must_not_overlap(self, setup):
        alias = mpsnn.Matrix.from_numpy(self.cpu, self.w)
        self.fails("(gradient overlaps weights|weights overlaps gradient)", alias, self.weights, self.state)
        other = mpsnn.Matrix(self.cpu, 3, 4)
        self.fails(r"weights\[(0|1)\] overlaps weights\[(0|1)\]", [self.gradient] * 2, [self.weights, alias],
                   [self.state, self.adam.make_state(other)])
        self.fails(r"states\[(0|1)\] (\w+) overlaps states\[(0|1)\] \2", [self.gradient] * 2,
                   [self.weights, other], [self.state, self.state])
        wrapped = mpsnn.OptimizerState(mpsnn.OptimizerKind.adam, momentum=alias, velocity=other)
        self.fails("(state momentum overlaps weights|weights overlaps state momentum)", self.gradient,
                   self.weights, wrapped)

    def test_a_committed_buffer(self, setup):
        buffer = self.queue.make_command_buffer()
        buffer.commit()
        buffer.wait_until_completed()
        with pytest.raises(ValueError, match="command_buffer was already committed"):
            self.adam.encode(buffer, self.gradient, self.weights, self.state)

    def test_another_device(self, setup):
        others = [b for b in mpsnn.backends() if b.available and b.name != "cpu"]
        if not others:
            pytest.skip("only the CPU is available here: no second device to mix in")
        device = mpsnn.Device(others[0].name)
        self.fails(r"gradient is on .* but the kernel is on cpu", mpsnn.Matrix(device, 3, 4), self.weights, self.state)


def test_bad_states(cpu, rng):
    kind = mpsnn.OptimizerKind
    m, v = matrix(cpu, rng, 3, 4), matrix(cpu, rng, 3, 4)
    with pytest.raises(ValueError, match=r"\[optimizer_state\] a state of kind adam holds 2 to 3 matrices"):
        mpsnn.OptimizerState(kind.adam, momentum=m)
    with pytest.raises(ValueError, match="a state of kind adam takes, in order, \\['momentum', 'velocity', 'maximum_velocity'\\]"):
        mpsnn.OptimizerState(kind.adam, momentum=m, maximum_velocity=v)
    with pytest.raises(ValueError, match="velocity is 4x3 but momentum is 3x4"):
        mpsnn.OptimizerState(kind.adam, momentum=m, velocity=matrix(cpu, rng, 4, 3))
    with pytest.raises(ValueError, match="overlaps"):
        mpsnn.OptimizerState(kind.adam, momentum=m, velocity=m)
    with pytest.raises(ValueError, match="sum_of_squares has data type float16"):
        mpsnn.OptimizerState(kind.rms_prop, sum_of_squares=matrix(cpu, rng, 2, 2, dtype=np.float16))
    with pytest.raises(TypeError, match="momentum must be an mpsnn.Matrix; got ndarray"):
        mpsnn.OptimizerState(kind.stochastic_gradient_descent, momentum=np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="this rms_prop state has no matrix 'momentum'"):
        optim.RMSProp(cpu).make_state(m)["momentum"]
