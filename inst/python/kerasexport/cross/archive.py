"""Archives on the PyTorch backend: built by a TensorFlow worker, verified here.

Keras's archive on PyTorch needs `torch_xla`. Instead, `write` saves each
tracked model and layer to a `.keras` file, describes each endpoint by the
model it belongs to, the method (the model itself, `call` or `__call__`) and
its ``training=`` value, and each variable collection by the positions of
its variables among the tracked models' variables; a warm TensorFlow worker
(see `cross.pool`) loads them, builds the same archive with the TensorFlow
backend and writes it to the staging path. `ExportArchive.write_out()` then
verifies it against the PyTorch models.
"""

import os

from kerasexport import errors
from kerasexport import routes
from kerasexport import signature as signature_lib
from kerasexport.cross import custom_code
from kerasexport.cross import environment
from kerasexport.cross import export as cross_export

WORKER_BACKEND = "tensorflow"


def locate_variables(name, variables, tracked):
    """[model index, variable index] of each variable among the tracked models'.

    Raises:
        ArgumentError: for a variable no tracked model or layer holds.
    """
    places = {}
    for i, resource in enumerate(tracked):
        for j, variable in enumerate(resource.variables):
            places.setdefault(id(variable), [i, j])
    located = []
    for variable in variables:
        if id(variable) not in places:
            raise errors.ArgumentError(
                f"The variable {getattr(variable, 'path', variable)!r} of collection "
                f"{name!r} belongs to no tracked model or layer. On the PyTorch "
                "backend the archive is rebuilt from its tracked models in a "
                "worker process: track() the model that holds it first."
            )
        located.append(places[id(variable)])
    return located


def write(plan, path, verbose):
    """Have a TensorFlow worker write the archive `plan` records at `path`.

    Args:
        plan: the `archive.plan.ArchivePlan` of an archive on the PyTorch backend.
        path: `str`, the staging path; its directory holds the temporary files.
        verbose: `bool` or `None`. Show the worker's output.

    Raises:
        RouteError: when a tracked model cannot be saved, or the worker
            cannot rebuild or write the archive.
    """
    import keras
    from keras.src.saving import saving_lib

    source = keras.backend.backend()
    work_dir = os.path.dirname(path)
    tracked = list(plan.tracked)
    files = []
    for i, resource in enumerate(tracked):
        files.append(os.path.join(work_dir, f"tracked-{i}.keras"))
        try:
            saving_lib.save_model(resource, files[-1])
        except Exception as exc:
            raise errors.RouteError(
                f"The tracked {type(resource).__name__} {resource.name!r} could not be "
                f"saved to a .keras file ({routes.describe(exc)}), so the archive "
                "cannot be built in the TensorFlow worker. Give its custom "
                "classes a `get_config()`."
            ) from exc
    paths = environment.worker_path()
    package = custom_code.pack(tracked, WORKER_BACKEND, source, paths)
    request = {
        "kind": "archive", "models": files, "weights": [len(r.weights) for r in tracked],
        "endpoints": [_endpoint(e, tracked) for e in plan.endpoints.values()],
        "collections": [
            {"name": name, "variables": locate_variables(name, variables, tracked)}
            for name, variables in plan.collections.items()
        ],
        "output": path, "verbose": bool(verbose),
        "sys_path": paths, "source_backend": source,
    }
    result, output = cross_export.run_request(
        WORKER_BACKEND, request, package, lambda: cross_export.clear(path)
    )
    if verbose:
        import sys

        sys.stderr.write(output)
    if not result.get("ok"):
        raise errors.RouteError(
            "The archive could not be built by the TensorFlow worker: "
            + cross_export.failure_message(result, output, WORKER_BACKEND, source, package)
        )


def _endpoint(endpoint, tracked):
    index = next(i for i, r in enumerate(tracked) if r is endpoint.owner)
    return {
        "name": endpoint.name, "model": index, "method": endpoint.method,
        "training": endpoint.training, "signature": signature_lib.to_json(endpoint.specs),
    }
