import zlib

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
    # Random inputs (never zeros), different for every test and the same on every
    # run: seeded by a stable hash of the test's id, so a failure replays exactly
    # (Python's hash() of a string changes from process to process).
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def relative_error(actual, expected):
    expected = np.asarray(expected, dtype=np.float64)
    return np.linalg.norm(np.asarray(actual, dtype=np.float64) - expected) / np.linalg.norm(expected)
