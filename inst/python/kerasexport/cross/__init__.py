"""The cross-backend route: export a model with another Keras backend, in a worker process.

A backend without a format's exporter (SavedModel on PyTorch, LiteRT on
JAX...) saves the model to a ``.keras`` file; a warm worker process of the
backend that has the exporter loads it and writes the artifact; the parent
verifies it against the original model. Modules, from the bottom up:

- `environment`: the worker's Python, ``sys.path``, variables, file stamps;
- `foreign`, `functional_copy`: why custom code failed in a worker, and a
  Functional copy of a subclassed model Keras cannot save;
- `custom_code`: the model's custom code, by name or by value (cloudpickle);
- `pool`: warm workers, one per backend, replaced when they die or hang;
- `worker`: the worker process itself (``python -m kerasexport.cross.worker``);
- `export` (a model) and `archive` (an `ExportArchive` on PyTorch): the
  parent side, which saves, sends a request and reads the answer.
"""
