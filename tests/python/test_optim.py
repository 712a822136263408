"""Optimizers against a float64 NumPy implementation of Apple's formulas
(MPSNNOptimizers.h), against torch.optim where the formulas agree, and fed bad
input.

Tolerance: weights are compared through their displacement w - w0 (so that a
wrong update cannot hide behind |w0|), states directly, norm-wise. The largest
float32 error is the rounding of w itself, half an ulp (3e-8 |w|) per step: a
random walk of about 2e-7 |w| over the 40 steps run here. The learning rates are
chosen so that the displacement is 5-20% of |w|, which puts the measured error
at 1e-6 to 3e-6 (states: 2e-7); 1e-5 keeps a threefold margin, while the formula
variants these tests tell apart (clipping after rescaling, torch's epsilon, a
missing bias correction, classic against Nesterov momentum) differ far more.
"""

import math

import numpy as np
import pytest

import mpsnn
from conftest import relative_error

TOLERANCE = 1e-5
STEPS = 40
INF = float("inf")


def f32(x):
    """Hyperparameters Apple declares float reach the kernel rounded to float32."""
    return float(np.float32(x))


# ---- the float64 reference: Apple's formulas, nothing else ----

class Reference:
    """One optimizer over float64 copies of the weights, configured like `make`."""

    def __init__(self, kind, lr, rescale=1.0, clip=None, reg="none", reg_scale=0.0, momentum=0.0,
                 nesterov=False, decay=0.9, beta1=0.9, beta2=0.999, eps=1e-8, time_step=0, **_):
        self.kind, self.reg, self.nesterov = kind, reg, nesterov
        self.lr, self.rescale, self.reg_scale = f32(lr), f32(rescale), f32(reg_scale)
        self.clip = None if clip is None else (f32(clip[0]), f32(clip[1]))
        self.momentum, self.eps = f32(momentum), f32(eps)
        self.decay, self.beta1, self.beta2, self.t = decay, beta1, beta2, time_step

    def gradient(self, g, w):
        if self.clip is not None:
            g = np.clip(g, *self.clip)            # "clipped before rescaling"
        g = self.rescale * g
        if self.reg == "l1":
            g = g + self.reg_scale * np.sign(w)   # d|w|/dw, sign(0) = 0
        elif self.reg == "l2":
            g = g + self.reg_scale * w
        return g

    def step(self, updates):
        """updates: (w, g, state dict) triples in float64, changed in place."""
        self.t += 1  # once per encode, whatever the number of matrices
        for w, g, s in updates:
            g = self.gradient(g, w)
            if self.kind == "sgd":
                if "momentum" not in s:
                    w -= self.lr * g
                elif self.nesterov:
                    s["momentum"][...] = self.momentum * s["momentum"] + g
                    w -= self.lr * (g + self.momentum * s["momentum"])
                else:
                    s["momentum"][...] = self.momentum * s["momentum"] + self.lr * g
                    w -= s["momentum"]
            elif self.kind == "rms_prop":
                s["sum_of_squares"][...] = self.decay * s["sum_of_squares"] + (1 - self.decay) * g**2
                w -= self.lr * g / (np.sqrt(s["sum_of_squares"]) + self.eps)
            else:
                lr_t = self.lr * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
                s["momentum"][...] = self.beta1 * s["momentum"] + (1 - self.beta1) * g
                s["velocity"][...] = self.beta2 * s["velocity"] + (1 - self.beta2) * g**2
                v = s["velocity"]
                if "maximum_velocity" in s:
                    s["maximum_velocity"][...] = v = np.maximum(s["maximum_velocity"], v)
                w -= lr_t * s["momentum"] / (np.sqrt(v) + self.eps)


def make(device, kind, lr, rescale=1.0, clip=None, reg="none", reg_scale=0.0, momentum=0.0,
         nesterov=False, decay=0.9, beta1=0.9, beta2=0.999, eps=1e-8, time_step=0, **_):
    descriptor = mpsnn.OptimizerDescriptor(
        learning_rate=lr, gradient_rescale=rescale, apply_gradient_clipping=clip is not None,
        gradient_clip_min=clip[0] if clip else -INF, gradient_clip_max=clip[1] if clip else INF,
        regularization_type=getattr(mpsnn.RegularizationType, reg), regularization_scale=reg_scale)
    if kind == "sgd":
        return mpsnn.optim.SGD(device, momentum_scale=momentum, use_nesterov_momentum=nesterov,
                               optimizer_descriptor=descriptor)
    if kind == "rms_prop":
        return mpsnn.optim.RMSProp(device, decay=decay, epsilon=eps, optimizer_descriptor=descriptor)
    return mpsnn.optim.Adam(device, beta1=beta1, beta2=beta2, epsilon=eps, time_step=time_step,
                            optimizer_descriptor=descriptor)


class Trainer:
    """The same weights and gradients through mpsnn (float32) and the reference."""

    def __init__(self, cpu, queue, rng, config, weights, maximum_velocity=False):
        self.queue, self.rng = queue, rng
        self.optimizer = make(cpu, **config)
        self.reference = Reference(**config)
        self.weights = weights                      # float32 arrays the matrices share
        self.initial = [w.astype(np.float64) for w in weights]
        self.reference_weights = [w.copy() for w in self.initial]
        self.matrices = [mpsnn.Matrix.from_numpy(cpu, w) for w in weights]
        self.gradients = [np.zeros(w.shape, np.float32) for w in weights]
        self.gradient_matrices = [mpsnn.Matrix.from_numpy(cpu, g) for g in self.gradients]
        amsgrad = {"maximum_velocity": maximum_velocity} if config["kind"] == "adam" else {}
        self.states = [self.optimizer.make_state(m, **amsgrad) for m in self.matrices]
        self.reference_states = [{n: np.zeros(w.shape) for n in s.names} for w, s in zip(weights, self.states)]

    def step(self, listed=True):
        for g in self.gradients:
            g[...] = self.rng.standard_normal(g.shape, dtype=np.float32)
        buffer = self.queue.make_command_buffer()
        if listed:
            self.optimizer.encode(buffer, self.gradient_matrices, self.matrices, self.states)
        else:
            for args in zip(self.gradient_matrices, self.matrices, self.states):
                self.optimizer.encode(buffer, *args)
        buffer.commit()
        buffer.wait_until_completed()
        triples = list(zip(self.reference_weights, [g.astype(np.float64) for g in self.gradients],
                           self.reference_states))
        if listed:
            self.reference.step(triples)
        else:
            for triple in triples:
                self.reference.step([triple])

    def check(self, tolerance=TOLERANCE):
        for i, (w, w0, expected) in enumerate(zip(self.weights, self.initial, self.reference_weights)):
            error = relative_error(w - w0, expected - w0)
            assert error < tolerance, f"weights[{i}]: displacement off by {error:.2e}"
        for i, (state, expected) in enumerate(zip(self.states, self.reference_states)):
            for name, values in expected.items():
                error = relative_error(state[name].to_numpy(), values)
                assert error < tolerance, f"states[{i}] {name} off by {error:.2e}"


SHAPES = [(33, 17), (1, 1000), (3, 5, 7)]
RULES = {
    "sgd": dict(kind="sgd", lr=0.1),
    "sgd_momentum": dict(kind="sgd", lr=0.01, momentum=0.9),
    "sgd_nesterov": dict(kind="sgd", lr=0.01, momentum=0.8, nesterov=True),
    "rms_prop": dict(kind="rms_prop", lr=0.01, decay=0.95, eps=1e-6),
    "adam": dict(kind="adam", lr=0.01, beta1=0.85, beta2=0.99, eps=1e-7),
    "amsgrad": dict(kind="adam", lr=0.01, beta1=0.9, beta2=0.95, eps=1e-8, amsgrad=True),
}
PREPROCESSING = {
    "plain": {},
    "rescaled_and_clipped": dict(rescale=0.5, clip=(-0.5, 0.75)),  # asymmetric, so order shows
    "l1": dict(reg="l1", reg_scale=0.05),
    "l2": dict(reg="l2", reg_scale=0.1, rescale=2.0),
    "clipped_l1": dict(clip=(-1.0, 1.0), reg="l1", reg_scale=0.02, rescale=0.25),
    "clipped_l2": dict(clip=(-0.3, 0.3), reg="l2", reg_scale=0.05),
}


@pytest.fixture(params=["fast", "reference"])
def kernels(request, monkeypatch):
    """Both CPU paths: the vectorised loops and the plain reference loop."""
    if request.param == "reference":
        monkeypatch.setenv("MPSNN_CPU_REFERENCE", "1")
    return request.param


def initial_weights(rng, shapes):
    weights = [rng.standard_normal(shape, dtype=np.float32) for shape in shapes]
    for w in weights:
        w.reshape(-1)[::7] = 0  # L1's sign(0) = 0 gets exercised
    return weights


@pytest.mark.parametrize("preprocessing", PREPROCESSING)
@pytest.mark.parametrize("rule", RULES)
def test_every_rule_and_option_against_float64(cpu, queue, rng, kernels, rule, preprocessing):
    config = {**RULES[rule], **PREPROCESSING[preprocessing]}
    trainer = Trainer(cpu, queue, rng, config, initial_weights(rng, SHAPES),
                      maximum_velocity=config.get("amsgrad", False))
    for _ in range(STEPS):
        trainer.step()
    trainer.check()


def test_clipping_happens_before_rescaling(cpu, queue):
    """One SGD step with g = 4, clip [-1, 1], rescale 0.5: Apple clips first (g -> 0.5);
    rescaling first would give clip(2) = 1."""
    w = np.zeros((1, 4), np.float32)
    sgd = mpsnn.optim.SGD(cpu, optimizer_descriptor=mpsnn.OptimizerDescriptor(
        learning_rate=1.0, gradient_rescale=0.5, apply_gradient_clipping=True,
        gradient_clip_max=1.0, gradient_clip_min=-1.0))
    weights = mpsnn.Matrix.from_numpy(cpu, w)
    buffer = queue.make_command_buffer()
    sgd.encode(buffer, mpsnn.Matrix.from_numpy(cpu, np.full((1, 4), 4.0, np.float32)), weights,
               sgd.make_state(weights))
    buffer.commit()
    buffer.wait_until_completed()
    np.testing.assert_array_equal(w, np.full((1, 4), -0.5, np.float32))


def test_a_list_of_many_sizes_and_strides_in_one_encode(cpu, queue, rng, kernels):
    """Large tensors split across threads mid-tensor; a padded-row view updates only
    its own elements; AMSGrad and plain Adam states mix in one list."""
    sizes = [(1, 200_003), (301, 233), (1, 5), (2, 300, 301)]
    weights = initial_weights(rng, sizes)
    backing = rng.standard_normal((9, 24), dtype=np.float32)
    before = backing.copy()
    weights.append(backing[:, 3:20])           # rows 96 bytes apart, 17 columns used
    config = dict(kind="adam", lr=0.02, beta1=0.8, beta2=0.9, eps=1e-6, reg="l2", reg_scale=0.01)
    trainer = Trainer(cpu, queue, rng, config, weights)
    trainer.states[1] = trainer.optimizer.make_state(trainer.matrices[1], maximum_velocity=True)
    trainer.reference_states[1]["maximum_velocity"] = np.zeros(sizes[1])
    for _ in range(5):
        trainer.step()
    trainer.check()
    outside = np.ones(backing.shape, bool)
    outside[:, 3:20] = False
    np.testing.assert_array_equal(backing[outside], before[outside])


@pytest.mark.parametrize("rule", ["sgd_momentum", "sgd_nesterov", "rms_prop", "amsgrad"])
def test_fast_loops_match_the_reference_loop(cpu, queue, monkeypatch, rule):
    """Same inputs through both CPU paths, every preprocessing option at once."""
    config = {**RULES[rule], "rescale": 0.7, "clip": (-1.2, 0.9), "reg": "l1", "reg_scale": 0.03}
    results = []
    for path in ("1", "0"):
        monkeypatch.setenv("MPSNN_CPU_REFERENCE", path)
        trainer = Trainer(cpu, queue, np.random.default_rng(7), config,
                          initial_weights(np.random.default_rng(8), [(1, 150_001), (13, 11)]),
                          maximum_velocity=config.get("amsgrad", False))
        for _ in range(3):
            trainer.step()
        results.append([w.copy() for w in trainer.weights] +
                       [s[n].to_numpy() for s in trainer.states for n in s.names])
    for reference, fast in zip(*results):
        np.testing.assert_allclose(fast, reference, rtol=1e-6, atol=1e-7)


# ---- Adam's time step ----

def test_adam_time_step_advances_once_per_encode(cpu, queue, rng):
    config = dict(kind="adam", lr=0.05, beta1=0.5, beta2=0.6, time_step=3)
    trainer = Trainer(cpu, queue, rng, config, initial_weights(rng, [(4, 6), (1, 9)]))
    assert trainer.optimizer.time_step == 3
    trainer.step(listed=True)                 # one step for the list: t = 4
    assert trainer.optimizer.time_step == 4
    trainer.step(listed=False)                # one encode per matrix: t = 5, then 6
    assert trainer.optimizer.time_step == 6 and trainer.reference.t == 6
    trainer.check()
    trainer.optimizer.time_step = 0           # settable, as timeStep is
    trainer.reference.t = 0
    trainer.step()
    trainer.check()


def test_hyperparameters_are_captured_at_encode_time(cpu, queue):
    w = np.ones((1, 8), np.float32)
    weights = mpsnn.Matrix.from_numpy(cpu, w)
    adam = mpsnn.optim.Adam(cpu, learning_rate=0.1, beta1=0.0, beta2=0.0, epsilon=0.0)
    state = adam.make_state(weights)
    buffer = queue.make_command_buffer()
    adam.encode(buffer, mpsnn.Matrix.from_numpy(cpu, np.full((1, 8), 2.0, np.float32)), weights, state)
    adam.learning_rate = 0.0                  # too late for the encoded update
    adam.time_step = 100
    buffer.commit()
    buffer.wait_until_completed()
    # beta1 = beta2 = 0: m = g, v = g^2, lr[1] = lr, so w -= lr * g / |g|.
    np.testing.assert_allclose(w, np.full((1, 8), 0.9), rtol=1e-6)


# ---- torch.optim, where the formulas agree ----

def torch_parity(cpu, queue, rng, config, torch_optimizer, torch_module, steps=STEPS):
    weights = initial_weights(rng, [(17, 19), (1, 40)])
    trainer = Trainer(cpu, queue, rng, config, weights, maximum_velocity=config.get("amsgrad", False))
    params = [torch_module.tensor(w0, requires_grad=True) for w0 in trainer.initial]
    optimizer = torch_optimizer(params)
    for _ in range(steps):
        trainer.step()
        for p, g in zip(params, trainer.gradients):
            p.grad = torch_module.tensor(g.astype(np.float64))
        optimizer.step()
    for w, w0, p in zip(trainer.weights, trainer.initial, params):
        expected = p.detach().numpy()
        assert relative_error(w - w0, expected - w0) < TOLERANCE


def test_sgd_matches_torch(cpu, queue, rng):
    """Plain SGD, and L2 as torch's weight_decay (both add scale * w to the gradient)."""
    torch = pytest.importorskip("torch")
    torch_parity(cpu, queue, rng, dict(kind="sgd", lr=0.05, reg="l2", reg_scale=0.01),
                 lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.01), torch)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_torch(cpu, queue, rng, nesterov):
    """Apple's classic momentum keeps lr inside m (m = mu m + lr g, w -= m), torch outside
    (b = mu b + g, w -= lr b): the same weights while lr is constant, which it is here.
    Nesterov is the same formula in both."""
    torch = pytest.importorskip("torch")
    torch_parity(cpu, queue, rng, dict(kind="sgd", lr=0.02, momentum=0.9, nesterov=nesterov),
                 lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, nesterov=nesterov), torch)


def test_rms_prop_matches_torch(cpu, queue, rng):
    """torch's RMSprop (no momentum, not centered) adds epsilon outside the sqrt, as Apple."""
    torch = pytest.importorskip("torch")
    torch_parity(cpu, queue, rng, dict(kind="rms_prop", lr=0.01, decay=0.9, eps=1e-4, reg="l2", reg_scale=0.02),
                 lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-4, weight_decay=0.02), torch)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_matches_torch_without_epsilon(cpu, queue, rng, amsgrad):
    """Apple adds epsilon to sqrt(v) and bias-corrects the learning rate; torch adds it to
    sqrt(v / (1 - beta2^t)). With epsilon 0 the two are the same formula."""
    torch = pytest.importorskip("torch")
    config = dict(kind="adam", lr=0.01, beta1=0.9, beta2=0.99, eps=0.0, amsgrad=amsgrad)
    torch_parity(cpu, queue, rng, config,
                 lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.99), eps=0.0, amsgrad=amsgrad), torch)


def test_adam_epsilon_is_placed_as_apple_places_it_not_as_torch(cpu, queue, rng):
    torch = pytest.importorskip("torch")
    config = dict(kind="adam", lr=0.01, beta1=0.9, beta2=0.999, eps=0.1)  # large, so placement shows
    with pytest.raises(AssertionError):
        torch_parity(cpu, queue, rng, config,
                     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=0.1), torch, steps=5)
    trainer = Trainer(cpu, queue, rng, config, initial_weights(rng, [(8, 8)]))
    for _ in range(5):
        trainer.step()
    trainer.check()
