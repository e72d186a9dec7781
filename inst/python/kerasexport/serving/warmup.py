"""Warm-up: run a new version at the batch sizes it will be sent before it serves.

Runtimes compile or plan per input shape on first use (TensorFlow traces,
OpenVINO and LiteRT reshape, onnxruntime allocates); a version runs each of
its endpoints once on zeros at every batch size in `batch_sizes()` before
the repository marks it available, so a version is READY only once the
first user request no longer pays for that. A failure here fails the
version (its error is reported) and the older versions keep serving.
"""

import numpy as np

from kerasexport.serving.batching import batchable


def batch_sizes(max_batch_size):
    """The batch sizes to warm: powers of two below `max_batch_size`, and it (ascending)."""
    sizes, size = [], 1
    while size < max_batch_size:
        sizes.append(size)
        size *= 2
    return tuple(sizes + [max(int(max_batch_size), 1)])


def warm_up(artifact, sizes=(1,)):
    """Run every endpoint of `artifact` on zeros, once per batch size (dynamic dims of size 1).

    Endpoints whose batch dimension is fixed, or that take no batch, run
    once at their own shape.

    Raises:
        Exception: whatever the runtime raises.
    """
    for endpoint in artifact.endpoints.values():
        for rows in (sizes if batchable(endpoint) else (1,)):
            arrays = _zeros(endpoint, rows)
            if arrays is None:
                break  # NumPy has no bfloat16 to build zeros with: loading is the check.
            artifact.predict(arrays, endpoint=endpoint.name)


def _zeros(endpoint, rows):
    arrays = []
    for t in endpoint.inputs:
        dims = tuple(t.shape or ())
        shape = tuple((rows if i == 0 else 1) if d is None else d for i, d in enumerate(dims))
        if t.dtype == "string":
            arrays.append(np.full(shape, b"", dtype=object))
        elif t.dtype == "bfloat16":
            return None
        else:
            arrays.append(np.zeros(shape, dtype=t.dtype))
    return arrays
