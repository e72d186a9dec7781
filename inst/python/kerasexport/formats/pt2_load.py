"""``torch.export.load`` with its schema's type hints looked up once per class.

torch's deserializer (``torch._export.serde.serialize._dict_to_dataclass``)
calls ``typing.get_type_hints`` on a schema class for every node of the
program it rebuilds: about a third of a small model's load time, the same
few dozen answers computed tens of thousands of times (pytorch/pytorch#196452,
open for torch 2.13). While `load` runs, that module's ``typing`` is a view
of the real one whose ``get_type_hints`` remembers its answers for the
schema's classes, which never change; everything else is ``typing`` itself.
When torch's module is not laid out as expected, `load` is plain
``torch.export.load``.

Loads also take turns: torch's is not thread-safe (two at once fail with
"_CURRENT_DESERIALIZER is already set"), and one process may load from
several threads: its own, or two servers' (each server loads one version at
a time).
"""

import functools
import threading
import typing

_lock = threading.Lock()  # one load at a time (see the module's doc)
_view = None  # kept between loads, so its answers are too


class _RememberedHints:
    """``typing``, with ``get_type_hints(cls, globalns=<the schema's names>)`` remembered."""

    def __init__(self, schema_names):
        self._schema_names = schema_names
        self._hints = functools.lru_cache(maxsize=None)(
            lambda cls: typing.get_type_hints(cls, globalns=schema_names))

    def get_type_hints(self, obj, globalns=None, localns=None, include_extras=False):
        if globalns is self._schema_names and localns is None and not include_extras:
            try:
                return dict(self._hints(obj))  # a copy: the remembered answer stays as computed
            except TypeError:  # not hashable, or not a class: asked afresh below
                pass
        return typing.get_type_hints(obj, globalns, localns, include_extras)

    def __getattr__(self, name):
        return getattr(typing, name)


def load(path, **kwargs):
    """``torch.export.load(path, **kwargs)``, faster, one at a time (see the module's doc)."""
    import torch
    from torch._export.serde import serialize

    with _lock:
        view = _view_for(serialize)
        if view is None:
            return torch.export.load(path, **kwargs)
        serialize.typing = view
        try:
            return torch.export.load(path, **kwargs)
        finally:
            serialize.typing = typing


def _view_for(serialize):
    """The view to put in place of `serialize`'s ``typing``, or `None` if it is not laid out as expected."""
    global _view
    if getattr(serialize, "typing", None) is not typing or not hasattr(serialize, "schema"):
        return None
    if _view is None or _view._schema_names is not vars(serialize.schema):
        _view = _RememberedHints(vars(serialize.schema))
    return _view
