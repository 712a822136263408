"""Optimizers (Apple's MPSNNOptimizer family) and learning-rate schedules.

The optimizers update weight matrices in place through a command buffer::

    adam = mpsnn.optim.Adam(device, learning_rate=1e-3)
    states = [adam.make_state(w) for w in weights]
    buffer = queue.make_command_buffer()
    adam.encode(buffer, gradients, weights, states)   # one step over every matrix
    buffer.commit()

A schedule sets an optimizer's ``learning_rate`` from the step count and knows
nothing else about it::

    schedule = mpsnn.optim.CosineSchedule(adam, total_steps=1000)
    ...
    schedule.step()   # after each training step
"""

from __future__ import annotations

import math

from ._core import (  # noqa: F401  (re-exported API)
    Optimizer,
    OptimizerAdam,
    OptimizerDescriptor,
    OptimizerKind,
    OptimizerRMSProp,
    OptimizerState,
    OptimizerStochasticGradientDescent,
    RegularizationType,
)

__all__ = [
    "Optimizer", "OptimizerAdam", "OptimizerDescriptor", "OptimizerKind", "OptimizerRMSProp", "OptimizerState",
    "OptimizerStochasticGradientDescent", "RegularizationType", "SGD", "Adam", "RMSProp",
    "LearningRateSchedule", "StepSchedule", "ExponentialSchedule", "CosineSchedule",
]

SGD = OptimizerStochasticGradientDescent
Adam = OptimizerAdam
RMSProp = OptimizerRMSProp


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return value


def _finite(value, name: str, minimum: float, inclusive: bool = True) -> float:
    value = float(value)
    if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
        bound = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be finite and {bound} {minimum}; got {value!r}")
    return value


class LearningRateSchedule:
    """The learning rate as a function of the step: ``learning_rate(0)`` is the
    base rate (by default the optimizer's rate when the schedule is made), and
    ``step()`` advances one step and sets ``optimizer.learning_rate``."""

    def __init__(self, optimizer, base_learning_rate: float | None = None):
        self.optimizer = optimizer
        rate = optimizer.learning_rate if base_learning_rate is None else base_learning_rate
        self.base_learning_rate = _finite(rate, "base_learning_rate", 0.0)
        self.step_count = 0

    def learning_rate(self, step: int) -> float:
        raise NotImplementedError

    def step(self) -> float:
        self.step_count += 1
        rate = self.learning_rate(self.step_count)
        self.optimizer.learning_rate = rate
        return rate


class StepSchedule(LearningRateSchedule):
    """base * gamma ** (step // step_size), as torch.optim.lr_scheduler.StepLR."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, base_learning_rate=None):
        super().__init__(optimizer, base_learning_rate)
        self.step_size = _positive_int(step_size, "step_size")
        self.gamma = _finite(gamma, "gamma", 0.0, inclusive=False)

    def learning_rate(self, step: int) -> float:
        return self.base_learning_rate * self.gamma ** (step // self.step_size)


class ExponentialSchedule(LearningRateSchedule):
    """base * gamma ** step, as torch.optim.lr_scheduler.ExponentialLR."""

    def __init__(self, optimizer, gamma: float, base_learning_rate=None):
        super().__init__(optimizer, base_learning_rate)
        self.gamma = _finite(gamma, "gamma", 0.0, inclusive=False)

    def learning_rate(self, step: int) -> float:
        return self.base_learning_rate * self.gamma ** step


class CosineSchedule(LearningRateSchedule):
    """minimum + (base - minimum) * (1 + cos(pi * step / total_steps)) / 2 up to
    total_steps (torch.optim.lr_scheduler.CosineAnnealingLR's closed form), then
    ``minimum`` from there on rather than rising again."""

    def __init__(self, optimizer, total_steps: int, minimum: float = 0.0, base_learning_rate=None):
        super().__init__(optimizer, base_learning_rate)
        self.total_steps = _positive_int(total_steps, "total_steps")
        self.minimum = _finite(minimum, "minimum", 0.0)

    def learning_rate(self, step: int) -> float:
        progress = min(step, self.total_steps) / self.total_steps
        return self.minimum + (self.base_learning_rate - self.minimum) * (1 + math.cos(math.pi * progress)) / 2


__all__ = [
    "Optimizer", "OptimizerDescriptor", "OptimizerKind", "OptimizerState", "RegularizationType",
    "OptimizerStochasticGradientDescent", "OptimizerRMSProp", "OptimizerAdam", "SGD", "Adam", "RMSProp",
    "LearningRateSchedule", "StepSchedule", "ExponentialSchedule", "CosineSchedule",
]
