"""mpsnn: Apple's Metal Performance Shaders training API and BNNS LSTM kernels,
on CPUs and NVIDIA GPUs.

Names follow Apple's, in snake_case without the prefix: MPSMatrixMultiplication
is ``mpsnn.MatrixMultiplication``, ``encodeToCommandBuffer`` is ``encode``.
"""

from __future__ import annotations

import os as _os

from ._core import (  # noqa: F401  (re-exported API)
    BackendInfo,
    CommandBuffer,
    CommandBufferStatus,
    CommandQueue,
    DataLayout,
    DataType,
    Device,
    Image,
    ImageDescriptor,
    Matrix,
    MatrixDescriptor,
    MatrixMultiplication,
    Origin,
    __version__,
    backends,
    float16,
    float32,
)
from ._image_batch import ImageBatch  # noqa: F401
from . import bnns  # noqa: F401,E402
from . import optim  # noqa: F401
from .optim import (  # noqa: F401
    SGD,
    Adam,
    Optimizer,
    OptimizerAdam,
    OptimizerDescriptor,
    OptimizerKind,
    OptimizerRMSProp,
    OptimizerState,
    OptimizerStochasticGradientDescent,
    RegularizationType,
    RMSProp,
)

_HERE = _os.path.dirname(_os.path.abspath(__file__))


def get_cmake_dir() -> str:
    """The folder a C++ project passes to find_package(mpsnn) (as mpsnn_DIR)."""
    return _os.path.join(_HERE, "lib", "cmake", "mpsnn")


def get_include_dir() -> str:
    """The folder holding the public C++ headers (mpsnn/*.hpp)."""
    return _os.path.join(_HERE, "include")
