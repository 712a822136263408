import pytest

import mpsnn


def test_backends_lists_every_backend_with_a_reason_when_unavailable():
    infos = {b.name: b for b in mpsnn.backends()}
    assert set(infos) == {"cpu", "cuda", "metal"}
    assert infos["cpu"].built and infos["cpu"].available and infos["cpu"].device_count == 1
    assert infos["cpu"].reason is None
    for info in infos.values():
        if not info.available:
            assert info.reason and info.device_count == 0
        if not info.built:
            assert info.reason.startswith("not built")


def test_default_device_is_the_first_available_backend():
    first = next(b for b in mpsnn.backends() if b.available)
    assert mpsnn.Device.default().backend == first.name


def test_device_names_and_equality():
    cpu = mpsnn.Device("cpu")
    assert cpu.name == "cpu" and cpu.backend == "cpu" and cpu.index == 0
    assert cpu == mpsnn.Device("cpu:0") and hash(cpu) == hash(mpsnn.Device("cpu"))
    assert cpu != "cpu"
    assert "cpu" in repr(cpu) and cpu.description


@pytest.mark.parametrize("spec", ["gpu", "", "cpu:", "cpu:-1", "cpu:x", "cuda:1:2", "CPU"])
def test_malformed_or_unknown_spec_raises_value_error(spec):
    with pytest.raises(ValueError, match=r"\[device\]"):
        mpsnn.Device(spec)


@pytest.mark.parametrize("name", [b.name for b in mpsnn.backends() if not b.available])
def test_unavailable_backend_raises_runtime_error_with_its_reason(name):
    reason = next(b.reason for b in mpsnn.backends() if b.name == name)
    with pytest.raises(RuntimeError, match="not available") as caught:
        mpsnn.Device(name)
    assert reason in str(caught.value)


def test_device_index_past_the_last_device_raises_runtime_error():
    with pytest.raises(RuntimeError, match="cpu has 1 device"):
        mpsnn.Device("cpu:1")


def test_cuda_device_when_present():
    cuda = next(b for b in mpsnn.backends() if b.name == "cuda")
    if not cuda.available:
        pytest.skip(f"cuda: {cuda.reason}")
    assert mpsnn.Device("cuda").name == "cuda:0"
