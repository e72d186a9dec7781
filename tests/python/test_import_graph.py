"""The core's import graph has no circle, read from the source as a newcomer would.

Every import counts, at module level or inside a function (a lazy import
is still a dependency), and so does a string naming one of the core's
submodules (``importlib.import_module("kerasexport.commands.export")``, the
worker started as ``python -m kerasexport.cross.worker``). ``from pkg
import name`` depends on ``pkg.name`` when that is a module, else on
``pkg``. Backend-independent: runs once.
"""

import ast
import os

import keras
import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "inst", "python")
PACKAGE = "kerasexport"

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="reads the source; runs once, on the TensorFlow run"
)


def modules():
    """Module name -> file, for every module of the core."""
    found = {}
    base = os.path.join(ROOT, PACKAGE)
    for directory, _, files in os.walk(base):
        for file in files:
            if not file.endswith(".py"):
                continue
            relative = os.path.relpath(os.path.join(directory, file), ROOT)[:-3].split(os.sep)
            if relative[-1] == "__init__":
                relative = relative[:-1]
            found[".".join(relative)] = os.path.join(directory, file)
    return found


def dependencies(name, path, known):
    """The core's modules that module `name` imports or names."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(PACKAGE + "."):
            found.add(node.value)  # the package's bare name is a logger's or a program's, not an import
    return {m for m in found if m in known and m != name}


def graph():
    known = modules()
    return {name: dependencies(name, path, known) for name, path in known.items()}


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_core_has_no_import_circle():
    assert cycles(graph()) == []


def test_the_reader_sees_what_the_runtime_does():
    edges = graph()
    # A few edges the codemap (ARCHITECTURE.md) names, read back from the code.
    assert "kerasexport.formats.openvino" in edges["kerasexport.api"] or "kerasexport.formats" in edges["kerasexport.api"]
    assert "kerasexport.cross.environment" in edges["kerasexport.cross.pool"]
    assert "kerasexport.cross.worker" in edges["kerasexport.cross.pool"]  # started by name
    assert not any(m.startswith("kerasexport.cli") for m in edges["kerasexport.commands.export"])
    # The leaves stay leaves.
    assert edges["kerasexport.artifact"] <= {"kerasexport.errors"}
    assert edges["kerasexport.dtypes"] == set()
    assert edges["kerasexport.errors"] == set()


def test_the_checker_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
