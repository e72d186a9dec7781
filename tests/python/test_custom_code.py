"""Custom code reaches the cross-backend worker by value, or is refused clearly.

The worker is a TensorFlow process whatever the model's backend, and PyTorch
is where the cross route is the only way to a SavedModel, so these run on
the PyTorch backend (the same code serves JAX's fallbacks).
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import kerasexport
import zoo
from kerasexport.cross import custom_code
from kerasexport import errors

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="the worker's transport is backend-independent; runs once, on PyTorch",
)

HERE = os.path.dirname(os.path.abspath(__file__))


def reloaded_outputs(path, x):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)  # kept: its endpoints need its variables
    return np.asarray(loaded.serve(x))


def assert_savedmodel_reproduces(model, path, x):
    expected = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
    np.testing.assert_allclose(reloaded_outputs(path, x), expected, rtol=1e-5, atol=1e-6)


# by value -------------------------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    import kerasexport

    class Residual(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = keras.layers.Dense(units)

        def call(self, x):
            return x + keras.ops.relu(self.dense(x))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.stem = keras.layers.Dense(8)
            self.block = Residual(8)
            self.head = keras.layers.Dense(2)

        def call(self, x):
            return self.head(self.block(self.stem(x)))

    keras.utils.set_random_seed(3)
    model = Net()
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)
    model(x)
    # Checked by the test, against the outputs saved here: no TensorFlow in this process.
    report = kerasexport.export(model, sys.argv[1], verify=False)
    np.save(sys.argv[2], keras.ops.convert_to_numpy(model(x)))
    print(report.route)
    """
)


def test_a_script_defined_subclassed_model_exports_from_its_main_module(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    saved, expected = tmp_path / "saved", tmp_path / "expected.npy"
    result = subprocess.run(
        [sys.executable, str(script), str(saved), str(expected)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == "cross-backend"
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(3, 4)
    np.testing.assert_allclose(reloaded_outputs(str(saved), x), np.load(expected), rtol=1e-5, atol=1e-6)


def test_classes_and_functions_defined_inside_a_function_travel(tmp_path):
    def doubled(x):
        return keras.ops.tanh(x) * 2.0

    class Shift(keras.layers.Layer):
        def __init__(self, amount=0.5, **kwargs):
            super().__init__(**kwargs)
            self.amount = amount

        def call(self, x):
            return x + self.amount

        def get_config(self):
            return {**super().get_config(), "amount": self.amount}

    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((4,)), keras.layers.Dense(6, activation=doubled), Shift(0.25), keras.layers.Dense(2),
    ])
    package = custom_code.pack(model, "tensorflow", "torch", sys.path)
    assert any("<locals>.Shift" in name for name in package.by_value)
    assert any("<locals>.doubled" in name for name in package.by_value)
    report = kerasexport.export(model, str(tmp_path / "m"))
    assert report.route == "cross-backend" and report.verified
    assert_savedmodel_reproduces(model, str(tmp_path / "m"), np.ones((3, 4), "float32"))


def test_a_registered_class_in_a_file_off_the_path_travels(tmp_path):
    source = tmp_path / "elsewhere" / "blocks_off_path.py"
    source.parent.mkdir()
    source.write_text(textwrap.dedent(
        """
        import keras

        @keras.saving.register_keras_serializable(package="off_path")
        class Gate(keras.layers.Layer):
            def build(self, shape):
                self.w = self.add_weight(shape=(shape[-1],), initializer="ones")

            def call(self, x):
                return x * keras.ops.sigmoid(self.w)
        """
    ))
    spec = importlib.util.spec_from_file_location("blocks_off_path", source)
    module = importlib.util.module_from_spec(spec)
    sys.modules["blocks_off_path"] = module
    try:
        spec.loader.exec_module(module)
        model = keras.Sequential([keras.Input((3,)), module.Gate(), keras.layers.Dense(2)])
        package = custom_code.pack(model, "tensorflow", "torch", sys.path)
        assert package.imports == [] and package.by_value == ["blocks_off_path.Gate"]
        report = kerasexport.export(model, str(tmp_path / "m"))
        assert report.verified
        assert_savedmodel_reproduces(model, str(tmp_path / "m"), np.ones((2, 3), "float32"))
    finally:
        del sys.modules["blocks_off_path"]


def test_registered_importable_classes_keep_going_by_name():
    package = custom_code.pack(zoo.build("subclassed"), "tensorflow", "torch", sys.path)
    assert package.imports == ["zoo"] and package.payload is None


def test_unregistered_classes_functions_and_lambdas_with_globals_travel(tmp_path):
    def make(ops, scale):
        return lambda t: ops.square(t) * scale  # ops: a module, in a closure

    model = keras.Sequential([
        keras.Input((4,)), zoo.UnregisteredMLP(),
        keras.layers.Lambda(zoo.unregistered_square),
        keras.layers.Lambda(make(keras.ops, 2.0), name="captures"),
        keras.layers.Lambda(lambda t: keras.ops.tanh(t), name="globals"),
    ])
    model(np.ones((1, 4), "float32"))
    report = kerasexport.export(model, str(tmp_path / "m.onnx"), format="onnx", route="cross-backend")
    assert report.verified and report.max_relative_error <= 1e-4


# refused, with what to change --------------------------------------------------------


def test_a_class_calling_torch_directly_names_the_class_and_the_call(tmp_path):
    import torch

    class TorchGelu(keras.layers.Layer):
        def call(self, x):
            return torch.nn.functional.gelu(x)

    model = keras.Sequential([keras.Input((3,)), TorchGelu(), keras.layers.Dense(2)])
    with pytest.raises(errors.RouteError) as info:
        kerasexport.export(model, str(tmp_path / "m"))
    message = str(info.value)
    assert "test_custom_code.test_a_class_calling_torch_directly_names_the_class_and_the_call.<locals>.TorchGelu.call()" in message
    assert "calls torch.nn.functional.gelu" in message
    assert "keras.ops.gelu in place of torch.nn.functional.gelu" in message
    assert "onnx" in message
    assert os.listdir(tmp_path) == []


def test_a_keras3_layer_with_r_methods_is_refused_by_name(tmp_path):
    # keras3's Layer() makes a class in an R environment whose methods call
    # R functions through reticulate's rpytools wrappers.
    def r_function(x):
        return x

    r_function.__module__ = "rpytools.call"

    def wrap(fn):
        def call(self, x):
            return fn(x)
        return call

    RLayer = type("ScaleByTwo", (keras.layers.Layer,), {"call": wrap(r_function), "__module__": "<r-globalenv>"})
    model = keras.Sequential([keras.Input((3,)), RLayer(name="scale"), keras.layers.Dense(2)])
    with pytest.raises(errors.RouteError) as info:
        kerasexport.export(model, str(tmp_path / "m"))
    message = str(info.value)
    assert "layer 'scale' uses the class ScaleByTwo, written in R" in message
    assert "cannot travel" in message
    assert "Export to ONNX instead" in message
    assert os.listdir(tmp_path) == []


def test_code_cloudpickle_cannot_carry_is_named(tmp_path):
    import threading

    lock = threading.Lock()

    class Locked(keras.layers.Layer):
        def call(self, x):
            with lock:
                return x * 2.0

    model = keras.Sequential([keras.Input((3,)), Locked(), keras.layers.Dense(2)])
    with pytest.raises(errors.RouteError, match=r"custom code \(.*<locals>\.Locked, saved as 'Locked'\) could not be sent"):
        kerasexport.export(model, str(tmp_path / "m"))
    assert os.listdir(tmp_path) == []


# Keras's own classes --------------------------------------------------------------


def test_keras_operations_saved_with_a_name_are_left_to_keras():
    # `x + 3.0` in a Functional model saves as the operation Add, under a
    # registered name; shipped, it would also stand in for the layer Add.
    inputs = keras.Input((4,))
    shifted = inputs + 3.0
    outputs = keras.layers.Add()([shifted, keras.layers.Dense(4)(inputs)]) * 0.5
    model = keras.Model(inputs, outputs)
    package = custom_code.pack(model, "tensorflow", "torch", sys.path)
    assert package.payload is None
    assert package.imports == []
