"""`formats/pt2_load.py`: ``torch.export.load`` with the schema's type hints remembered.

The same program as torch's own load, far fewer ``typing.get_type_hints``
calls, torch's module left as it was after every load (failed, concurrent,
or when its layout is not the expected one)."""

import threading
import typing

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "torch",
    reason="loading a .pt2 file does not depend on the Keras backend; runs once, on PyTorch",
)

torch = pytest.importorskip("torch")
from torch._export.serde import serialize  # noqa: E402

from kerasexport.formats import pt2_load  # noqa: E402


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(4, 8)
        self.second = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.second(torch.relu(self.first(x))).softmax(-1)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("pt2") / "net.pt2"
    batch = torch.export.Dim("batch")
    program = torch.export.export(_Net().eval(), (torch.ones(2, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
    return str(path)


def _counting(monkeypatch):
    calls = [0]
    real = typing.get_type_hints

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(typing, "get_type_hints", counted)
    return calls


def test_it_loads_the_program_torch_loads(saved):
    ours, theirs = pt2_load.load(saved), torch.export.load(saved)
    assert ours.graph_module.code == theirs.graph_module.code
    assert str(ours.range_constraints) == str(theirs.range_constraints)
    x = torch.linspace(-1, 1, 20).reshape(5, 4)
    np.testing.assert_array_equal(ours.module()(x).detach().numpy(), theirs.module()(x).detach().numpy())
    assert serialize.typing is typing


def test_the_schema_hints_are_looked_up_once_per_class(saved, monkeypatch):
    calls = _counting(monkeypatch)
    torch.export.load(saved)
    plain = calls[0]
    calls[0] = 0
    pt2_load.load(saved)
    pt2_load.load(saved)
    assert plain > 100  # what torch does: once per node and field of the program
    assert calls[0] < plain / 10, (calls[0], plain)


def test_extra_files_are_read_as_torch_reads_them(saved, tmp_path):
    path = str(tmp_path / "extra.pt2")
    program = torch.export.load(saved)
    torch.export.save(program, path, extra_files={"meta.json": '{"a": 1}'})
    extra = {"meta.json": ""}
    pt2_load.load(path, extra_files=extra)
    assert extra["meta.json"] == '{"a": 1}'


def test_a_failed_load_leaves_torch_as_it_was(tmp_path):
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(Exception) as plain:
        torch.export.load(str(bad))
    with pytest.raises(type(plain.value)):
        pt2_load.load(str(bad))
    assert serialize.typing is typing


def test_concurrent_loads_all_succeed_and_torch_is_restored_after_the_last(saved):
    results, failures = [], []

    def load():
        try:
            results.append(pt2_load.load(saved).graph_module.code)
        except Exception as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures and len(results) == 4 and len(set(results)) == 1
    assert serialize.typing is typing


def test_an_unexpected_layout_is_loaded_plainly_and_left_alone(saved, monkeypatch):
    other = type("OtherTyping", (), {"__getattr__": lambda self, name: getattr(typing, name)})()
    monkeypatch.setattr(serialize, "typing", other)
    calls = _counting(monkeypatch)
    program = pt2_load.load(saved)
    assert serialize.typing is other
    assert calls[0] > 100  # torch's own lookups, through the module it was given
    assert program.graph_module.code == torch.export.load(saved).graph_module.code
