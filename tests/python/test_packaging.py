"""The installed package: BLAS loading, the CMake package, a C++ consumer."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mpsnn

HERE = Path(__file__).resolve().parent


def test_blas_loads_from_the_scipy_openblas32_wheel_without_library_path():
    if sys.platform != "linux":
        pytest.skip("the scipy-openblas32 provider is used on Linux only")
    import scipy_openblas32

    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    script = (
        "import mpsnn\n"
        "print(mpsnn.Device('cpu').description)\n"
        "print(''.join(l for l in open('/proc/self/maps') if 'openblas' in l))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         check=True, cwd="/").stdout
    assert "OpenBLAS" in out
    wheel_lib = os.path.realpath(scipy_openblas32.get_lib_dir())
    assert any(wheel_lib in line and "libscipy_openblas.so" in line for line in out.splitlines())


def test_imports_when_the_blas_is_in_another_site_packages(tmp_path):
    """mpsnn in one site-packages, scipy-openblas32 in another: the run path
    misses, and the package loads the BLAS from its own package instead."""
    if sys.platform != "linux":
        pytest.skip("the scipy-openblas32 provider is used on Linux only")
    import scipy_openblas32

    package = Path(mpsnn.__file__).parent
    elsewhere = tmp_path / "site"
    shutil.copytree(package, elsewhere / "mpsnn", ignore=shutil.ignore_patterns("__pycache__"))
    assert not (elsewhere / "scipy_openblas32").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    env["PYTHONPATH"] = os.pathsep.join([str(elsewhere), str(Path(scipy_openblas32.__file__).parents[1])])
    out = subprocess.run([sys.executable, "-c", "import mpsnn; print(mpsnn.__file__, mpsnn.Device('cpu').name)"],
                         env=env, capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(str(elsewhere)) and out.stdout.strip().endswith("cpu")


def test_cmake_dir_command_prints_the_package_config_folder():
    out = subprocess.run([sys.executable, "-m", "mpsnn", "--cmake-dir"], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == mpsnn.get_cmake_dir()
    config = Path(out) / "mpsnnConfig.cmake"
    assert config.is_file() and (Path(out) / "mpsnnConfigVersion.cmake").is_file()
    assert 'set(mpsnn_BACKENDS "cpu")' in config.read_text()
    assert (Path(mpsnn.get_include_dir()) / "mpsnn" / "mpsnn.hpp").is_file()


def test_library_exports_only_the_public_api():
    if sys.platform != "linux" or not shutil.which("nm"):
        pytest.skip("needs Linux and nm")
    library = next((Path(mpsnn.__file__).parent / "lib").glob("libmpsnn.so*"))
    symbols = subprocess.run(["nm", "-D", "--defined-only", "-C", str(library)], capture_output=True,
                             text=True, check=True).stdout
    functions = [line for line in symbols.splitlines() if " T " in line]
    assert functions and all("mpsnn::" in line for line in functions)
    assert not any("mpsnn::cpu::" in line for line in functions)  # backends stay hidden


def test_cpp_consumer_builds_against_the_installed_package_and_runs(tmp_path):
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is missing: pip install '.[test]' installs it")
    build = tmp_path / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    for command in ([cmake, "-S", str(HERE.parent / "cpp_consumer"), "-B", str(build), *generator,
                     f"-Dmpsnn_DIR={mpsnn.get_cmake_dir()}", "-DCMAKE_BUILD_TYPE=Release"],
                    [cmake, "--build", str(build)]):
        step = subprocess.run(command, capture_output=True, text=True)
        assert step.returncode == 0, f"{' '.join(command)}\n{step.stdout}\n{step.stderr}"
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run([str(build / "consumer")], check=True, capture_output=True, text=True,
                         env=env).stdout.splitlines()

    assert out[0] == f"version {mpsnn.__version__} handler 1"
    values = {key: np.array([float(l.split()[1]) for l in out if l.startswith(key + " ")])
              for key in "abc"}
    a, b = values["a"].reshape(3, 4), values["b"].reshape(4, 2)
    np.testing.assert_allclose(values["c"].reshape(3, 2), a.astype(np.float64) @ b, rtol=1e-6)
    assert any(l.startswith("error [matrix] rows, columns and matrices must be positive") for l in out)

    w, g, updated = np.array([[float(x) for x in l.split()[1:]] for l in out if l.startswith("adam ")]).T
    m, v = 0.1 * g, 0.001 * g**2  # Adam's first step from zero state, t = 1
    lr = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
    np.testing.assert_allclose(updated, w - lr * m / (np.sqrt(v) + 1e-8), rtol=1e-6)
    assert "error [adam] gradient is 1x3 but weights is 1x4" in out

    # The LSTM forward, recomputed in float64 from the weights main.cpp builds.
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    j, i_in, i_h = np.arange(3)[:, None], np.arange(2)[None, :], np.arange(3)[None, :]
    W = [0.1 * (g + 1) * (j - i_in) for g in range(4)]
    U = [0.05 * (j + i_h - g) for g in range(4)]
    b = 0.1 * np.arange(3)
    h, c, expected = np.zeros(3), np.zeros(3), []
    for x_t in (np.array([0.5, -1.0]), np.array([1.5, 0.25])):
        pre = [W[g] @ x_t + U[g] @ h + b for g in range(4)]
        c = sigmoid(pre[1]) * c + sigmoid(pre[0]) * np.tanh(pre[2])
        h = sigmoid(pre[3]) * np.tanh(c)
        expected.extend(h)
    lstm = [float(l.split()[1]) for l in out if l.startswith("lstm ")]
    np.testing.assert_allclose(lstm, expected, rtol=1e-5)
