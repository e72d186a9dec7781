""".pt2 (Keras's format "torch"): dynamic dimensions, static when asked, options.

torch.export runs on the PyTorch backend whatever the model's backend (the
matrix covers the cross route), so these run on the PyTorch backend only.
"""

import os

import keras
import numpy as np
import pytest

import kerasexport
from kerasexport import errors

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="torch.export writes .pt2 for every backend; runs once, on the PyTorch backend",
)


def outputs(model, x):
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))


def conv_model():
    keras.utils.set_random_seed(6)
    return keras.Sequential([
        keras.Input((None, None, 3)),
        keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2),
    ])


def run_program(path, x):
    import torch

    module = torch.export.load(str(path)).module()
    with torch.no_grad():
        return module(torch.as_tensor(x)).numpy()


def test_every_unknown_dimension_stays_dynamic(tmp_path):
    model = conv_model()
    path = tmp_path / "conv"  # no suffix: found by content
    kerasexport.export(model, path, format="torch")
    rng = np.random.default_rng(0)
    for shape in ((1, 9, 13, 3), (7, 30, 20, 3)):
        x = rng.standard_normal(shape).astype("float32")
        np.testing.assert_allclose(run_program(path, x), outputs(model, x), rtol=1e-5, atol=1e-6)
    artifact = kerasexport.load(path)
    assert artifact.format == "torch"
    assert artifact.endpoint().inputs[0].shape == (None, None, None, 3)


def test_a_static_signature_gives_a_static_program(tmp_path):
    model = conv_model()
    path = tmp_path / "static.pt2"
    kerasexport.export(model, path, format="torch", input_signature=[keras.InputSpec(shape=(2, 8, 8, 3))])
    artifact = kerasexport.load(path)
    assert artifact.endpoint().inputs[0].shape == (2, 8, 8, 3)
    with pytest.raises(errors.InputError, match=r"expects shape \(2, 8, 8, 3\)"):
        artifact.predict(np.zeros((3, 8, 8, 3), "float32"))


def test_dynamic_shapes_and_strict_pass_through(tmp_path):
    import torch

    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    path = tmp_path / "m.pt2"
    batch = torch.export.Dim("batch", min=1, max=64)
    kerasexport.export(model, path, format="torch", dynamic_shapes={0: batch}, strict=True)
    program = torch.export.load(str(path))
    (placeholder,) = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in program.graph_signature.user_inputs]
    size = placeholder.meta["val"].shape[0]
    assert not isinstance(size, int)
    assert program.range_constraints[size.node.expr].upper == 64


def test_a_program_that_cannot_stay_dynamic_fails_naming_torch_export(tmp_path):
    keras.utils.set_random_seed(2)
    # A Reshape that folds the batch into the features holds only for one size.
    model = keras.Sequential([
        keras.Input((4,)), keras.layers.Lambda(lambda x: keras.ops.reshape(x, (2, -1)) if x.shape[0] == 2 else x),
    ])
    with pytest.raises(errors.KerasexportError, match="torch.export"):
        kerasexport.export(model, tmp_path / "m.pt2", format="torch", route="native")
    assert os.listdir(tmp_path) == []


def test_options_of_other_formats_are_refused(tmp_path):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
    with pytest.raises(errors.OptionError, match="dynamic_shapes"):
        kerasexport.export(model, tmp_path / "m.pt2", format="torch", opset_version=17)


def raw_program(model):
    """torch.export's own program of `model`, before kerasexport drops its unused weights."""
    import torch

    from kerasexport import signature
    from kerasexport.formats import pt2

    args, _ = pt2._sample_inputs(signature.normalize(model, None))
    model.eval()
    return torch.export.export(model, args, strict=False)


def test_weights_are_dropped_only_when_what_to_drop_could_be_worked_out():
    import types

    from kerasexport.formats import pt2

    model = conv_model()
    program = raw_program(model)
    before = len(program.state_dict)
    assert len(pt2._without_unused_weights(program).state_dict) < before  # the same weights, once
    # A program without the public signature torch has today is left as it is.
    unknown = types.SimpleNamespace(graph=program.graph)
    assert pt2._without_unused_weights(unknown) is unknown


def test_a_failure_while_dropping_weights_is_raised_not_swallowed(monkeypatch):
    import torch

    from kerasexport.formats import pt2

    program = raw_program(conv_model())

    def broken(self):
        raise TypeError("recompile failed")

    monkeypatch.setattr(torch.fx.GraphModule, "recompile", broken)
    with pytest.raises(TypeError, match="recompile failed"):
        pt2._without_unused_weights(program)
