"""The ONNX format's finishing pass: one self-contained, path-free file."""

import os

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto
from onnx import helper
from onnx import numpy_helper

import pytest

from kerasexport import errors
from kerasexport.formats import onnx as onnx_format

WEIGHTS = np.arange(12, dtype="float32").reshape(4, 3) / 10


def write_messy_model(path, location="weights.data"):
    """`x @ W`, as exporters leave it: weights in a side file, a doc string
    and a torch stack trace naming a source path, an output named "36"."""
    node = helper.make_node("MatMul", ["x", "W"], ["36"], doc_string="File /home/me/model.py, line 3")
    trace = node.metadata_props.add()
    trace.key, trace.value = "pkg.torch.onnx.stack_trace", "/home/me/model.py:3"
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("36", TensorProto.FLOAT, [None, 3])],
        initializer=[numpy_helper.from_array(WEIGHTS, "W")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8, doc_string="/home/me"
    )
    onnx.save_model(model, path, save_as_external_data=True, location=location, size_threshold=0)


def test_finish_folds_side_files_scrubs_and_names_in_one_file(tmp_path):
    path = str(tmp_path / "m.onnx")
    write_messy_model(path)
    assert sorted(os.listdir(tmp_path)) == ["m.onnx", "weights.data"]

    onnx_format.finish(path, ["score"])

    assert os.listdir(tmp_path) == ["m.onnx"]
    with open(path, "rb") as f:
        assert b"/home/me" not in f.read()
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["score"]
    x = np.ones((2, 4), dtype="float32")
    np.testing.assert_allclose(session.run(None, {"x": x})[0], x @ WEIGHTS, rtol=1e-6)


def test_finish_leaves_a_clean_file_untouched(tmp_path):
    path = str(tmp_path / "m.onnx")
    write_messy_model(path)
    onnx_format.finish(path, None)
    before = os.stat(path).st_mtime_ns, open(path, "rb").read()

    onnx_format.finish(path, None)

    assert (os.stat(path).st_mtime_ns, open(path, "rb").read()) == before


def test_finish_keeps_names_that_would_collide_with_internal_tensors(tmp_path):
    path = str(tmp_path / "m.onnx")
    write_messy_model(path)
    onnx_format.finish(path, ["x"])  # "x" is the graph's input.
    assert [o.name for o in onnx.load(path).graph.output] == ["36"]


def test_finish_leaves_an_unreadable_file_to_verification(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"not an onnx file")
    onnx_format.finish(str(path), ["score"])
    assert path.read_bytes() == b"not an onnx file"


def write_model_with(path, op_type):
    """`op_type(x)`, an operation ONNX does not define, as tf2onnx leaves one."""
    node = helper.make_node(op_type, ["x"], ["y"], name=f"dense/Gelu/{op_type}")
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save_model(model, path)


def write_model_with_a_branch(path):
    """`If(c)`: its then-branch holds a weight in a side file, a doc string
    naming a source path and an operation ONNX does not define."""
    then_node = helper.make_node("Erfc", ["W"], ["y_then"], name="inner/Erfc", doc_string="/home/me/then.py")
    then_branch = helper.make_graph(
        [then_node], "then", [], [helper.make_tensor_value_info("y_then", TensorProto.FLOAT, [4, 3])],
        initializer=[numpy_helper.from_array(WEIGHTS, "W")],
    )
    else_branch = helper.make_graph(
        [helper.make_node("Identity", ["V"], ["y_else"])], "else", [],
        [helper.make_tensor_value_info("y_else", TensorProto.FLOAT, [4, 3])],
        initializer=[numpy_helper.from_array(-WEIGHTS, "V")],
    )
    branch = helper.make_node("If", ["c"], ["y"], then_branch=then_branch, else_branch=else_branch)
    graph = helper.make_graph(
        [branch], "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save_model(model, path, save_as_external_data=True, location="weights.data", size_threshold=0)


def test_finish_and_load_failures_reach_into_subgraphs(tmp_path):
    path = str(tmp_path / "m.onnx")
    write_model_with_a_branch(path)

    onnx_format.finish(path, None)

    assert os.listdir(tmp_path) == ["m.onnx"]
    with open(path, "rb") as f:
        assert b"/home/me" not in f.read()
    branches = {a.name: a.g for a in onnx.load(path).graph.node[0].attribute}
    np.testing.assert_array_equal(numpy_helper.to_array(branches["then_branch"].initializer[0]), WEIGHTS)
    np.testing.assert_array_equal(numpy_helper.to_array(branches["else_branch"].initializer[0]), -WEIGHTS)
    assert onnx_format.undefined_operations(path) == [("Erfc", "inner/Erfc")]


def staged_file(tmp_path, content=None):
    """A file under a staging directory's name, as verification sees an export."""
    path = str(tmp_path / ".staging-m.onnx-pid1" / "m.onnx")
    os.makedirs(os.path.dirname(path))
    if content is not None:
        with open(path, "wb") as f:
            f.write(content)
    return path


def test_a_load_failure_names_the_operations_onnx_does_not_define(tmp_path):
    path = staged_file(tmp_path)
    write_model_with(path, "Erfc")
    with pytest.raises(errors.ArtifactError) as raised:
        onnx_format.open(path)
    message = onnx_format.describe_load_failure(path, raised.value.__cause__)
    assert "operations ONNX does not define: Erfc (node 'dense/Gelu/Erfc')" in message
    assert "format='tf_saved_model'" in message
    assert str(tmp_path) not in message


def test_other_load_failures_are_described_without_the_staging_path(tmp_path):
    path = staged_file(tmp_path, b"not an onnx file")
    with pytest.raises(errors.ArtifactError) as raised:
        onnx_format.open(path)
    message = onnx_format.describe_load_failure(path, raised.value.__cause__)
    assert message.startswith("InvalidProtobuf: ")
    assert str(tmp_path) not in message


def test_verification_names_an_unloadable_artifact_as_the_user_named_it(tmp_path):
    import keras

    from kerasexport import verify

    path = staged_file(tmp_path, b"not an onnx file")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    signature = [keras.InputSpec(shape=(None, 4), dtype="float32")]
    with pytest.raises(errors.VerificationError, match="could not be loaded: 'm.onnx' is not an ONNX model") as raised:
        verify.verify_artifact(model, onnx_format, path, signature, {})
    assert str(tmp_path) not in str(raised.value)


def test_gelu_converts_to_onnx_through_tensorflow(tmp_path):
    # TensorFlow's exact GELU uses Erfc, which tf2onnx has no translation for.
    import keras

    import kerasexport

    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="gelu"), keras.layers.Dense(2)])
    path = str(tmp_path / "m.onnx")
    report = kerasexport.export(model, path, format="onnx", route="cross-backend")
    assert report.verified
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32") * 3
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    want = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


_AFFINITY_PROBE = r"""
import os, sys
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # as `taskset -c <one cpu>` would
from kerasexport.formats import onnx
artifact = onnx.open(sys.argv[1])
allowed = os.sched_getaffinity(0)
outside = []
for task in os.listdir("/proc/self/task"):
    if os.sched_getaffinity(int(task)) - allowed:
        outside.append(task)
print(artifact.runtime.get_session_options().intra_op_num_threads, len(outside))
"""


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2
                    or not os.path.isdir("/proc/self/task"),
                    reason="needs Linux and at least two CPUs this process may use")
def test_a_session_stays_on_the_cpus_the_process_may_use(tmp_path):
    # Left alone, onnxruntime sized its pool to the machine and pinned a thread
    # outside `taskset -c 0`: a pinned server computed and spun on the other core.
    import subprocess
    import sys

    import keras

    import kerasexport

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    path = str(tmp_path / "m.onnx")
    kerasexport.export(model, path, format="onnx", verify=False)
    out = subprocess.run([sys.executable, "-c", _AFFINITY_PROBE, path], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr[-2000:]
    threads, outside = out.stdout.split()
    assert threads == "1"
    assert outside == "0"
