import numpy as np
import pytest

import mpsnn


@pytest.fixture
def cpu():
    return mpsnn.Device("cpu")


@pytest.fixture
def queue(cpu):
    return mpsnn.CommandQueue(cpu)


@pytest.fixture
def rng(request):
    # A fresh, reproducible stream per test: never test on zeros.
    return np.random.default_rng(abs(hash(request.node.nodeid)) % 2**32)


def relative_error(actual, expected):
    expected = np.asarray(expected, dtype=np.float64)
    return np.linalg.norm(np.asarray(actual, dtype=np.float64) - expected) / np.linalg.norm(expected)
