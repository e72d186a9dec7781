"""A missing Python package is named, with how to install it, before any work."""

import importlib.util
import os

import keras
import pytest

import kerasexport
from kerasexport import dependencies
from kerasexport import errors

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="backend-independent; runs once, on the PyTorch backend",
)


def without(monkeypatch, module):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))


@pytest.mark.parametrize("format, module, package", [
    ("openvino", "openvino", "openvino"),
    ("litert", "ai_edge_litert", "ai-edge-litert"),
    ("torch", "torch", "torch"),
])
def test_a_missing_package_is_a_dependency_error_naming_it(tmp_path, monkeypatch, format, module, package):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    without(monkeypatch, module)
    with pytest.raises(errors.DependencyError, match=f"pip install {package}"):
        kerasexport.export(model, tmp_path / "m", format=format)
    assert os.listdir(tmp_path) == []


def test_an_unverified_litert_export_does_not_need_the_runtime():
    needed = dependencies.needed_for_export("litert", "tensorflow", verify=False)
    assert [package for _, package, _ in needed] == ["tensorflow-cpu"]


@pytest.mark.parametrize("module, package, content", [
    ("openvino", "openvino", b'<?xml version="1.0"?>\n<net name="m" version="11"></net>'),
    ("ai_edge_litert", "ai-edge-litert", b"\x1c\x00\x00\x00TFL3" + bytes(40)),
])
def test_loading_without_the_runtime_names_the_package(tmp_path, monkeypatch, module, package, content):
    import sys

    path = tmp_path / "model"
    path.write_bytes(content)
    (tmp_path / "model.bin").write_bytes(b"")
    monkeypatch.setitem(sys.modules, module, None)  # import fails
    with pytest.raises(errors.DependencyError, match=f"pip install {package}"):
        kerasexport.load(path)
