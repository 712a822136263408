"""mpsnn: Apple's Metal Performance Shaders training API and BNNS LSTM kernels,
on CPUs and NVIDIA GPUs.

Names follow Apple's, in snake_case without the prefix: MPSMatrixMultiplication
is ``mpsnn.MatrixMultiplication``, ``encodeToCommandBuffer`` is ``encode``.
"""

from __future__ import annotations

import os as _os


def _load_blas_from_its_package() -> None:
    """libmpsnn finds OpenBLAS through a run path relative to site-packages; when
    scipy-openblas32 sits in another site-packages (a venv with system site
    packages, user and system installs), load it from its own package first:
    the loader then resolves libmpsnn's dependency to the library already loaded."""
    import ctypes

    import scipy_openblas32

    ctypes.CDLL(_os.path.join(scipy_openblas32.get_lib_dir(), "libscipy_openblas.so"), mode=ctypes.RTLD_GLOBAL)


def _load_core():
    """Loads the extension with OpenBLAS told to start no threads of its own:
    mpsnn runs every BLAS call single-threaded inside its own thread pool, and an
    idle OpenBLAS worker that keeps spinning costs up to a quarter of a training
    step on a 2-core machine. The variable is read when the library loads, so it
    is set just for that and restored; NumPy is imported first, so its own
    OpenBLAS (another library) starts with the user's setting."""
    import numpy  # noqa: F401

    saved = _os.environ.get("OPENBLAS_NUM_THREADS")
    _os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        try:
            from . import _core  # noqa: F401
        except ImportError as error:
            if "libscipy_openblas" not in str(error):
                raise
            _load_blas_from_its_package()
    finally:
        if saved is None:
            del _os.environ["OPENBLAS_NUM_THREADS"]
        else:
            _os.environ["OPENBLAS_NUM_THREADS"] = saved


_load_core()

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
# The optimizers (Apple's names and the SGD/Adam/RMSProp aliases) at the top level too.
from .optim import (  # noqa: F401
    SGD, Adam, Optimizer, OptimizerAdam, OptimizerDescriptor, OptimizerKind, OptimizerRMSProp,
    OptimizerState, OptimizerStochasticGradientDescent, RegularizationType, RMSProp,
)

_HERE = _os.path.dirname(_os.path.abspath(__file__))


def get_cmake_dir() -> str:
    """The folder a C++ project passes to find_package(mpsnn) (as mpsnn_DIR)."""
    return _os.path.join(_HERE, "lib", "cmake", "mpsnn")


def get_include_dir() -> str:
    """The folder holding the public C++ headers (mpsnn/*.hpp)."""
    return _os.path.join(_HERE, "include")
