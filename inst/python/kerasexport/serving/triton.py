"""Triton's extensions: model configuration, statistics, and the repository index, as documents.

Shared by HTTP (``GET /v2/models/{m}[/versions/{v}]/config``,
``GET /v2/models[/{m}[/versions/{v}]]/stats``, ``POST /v2/repository/index``)
and gRPC (``ModelConfig``, ``ModelStatistics``, ``RepositoryIndex``, which
parse these same documents into Triton's messages). Follows
triton-inference-server/server ``docs/protocol/extension_model_configuration.md``
(the ``ModelConfig`` of ``model_config.proto``, as JSON with its field
names), ``extension_statistics.md`` and ``extension_model_repository.md``.

The configuration says what the server does, not what a config file says:
an endpoint whose batch dimension is dynamic reports the server's
``--max-batch-size`` and dims without the batch; any other reports 0 and
its whole shape. A request with more rows than ``max_batch_size`` is still
served (alone), as over HTTP.
"""

from kerasexport import dtypes
from kerasexport.serving.batching import batchable
from kerasexport.serving.errors import NotFound
from kerasexport.serving.kserve import PLATFORMS
from kerasexport.serving.repository import AVAILABLE, FAILED, UNLOADING

# Triton's backend names, where Triton has one for the format.
BACKENDS = {"tf_saved_model": "tensorflow", "onnx": "onnxruntime", "openvino": "openvino",
            "litert": "tflite", "torch": "pytorch"}


def model_config(model, served):
    """The ``ModelConfig`` of a served version's default endpoint, as a JSON-ready dict."""
    artifact = served.artifact
    endpoint = artifact.endpoint()
    runner = served.runner
    rows = getattr(runner, "max_batch_size", 1)
    batched = batchable(endpoint)

    def tensor(info, output):
        shape = [-1] if info.shape is None else [-1 if d is None else d for d in info.shape]
        entry = {"name": info.name, "data_type": dtypes.convert(info.dtype, "name", "triton",
                                                               default="TYPE_INVALID"),
                 "dims": shape[1:] if batched else shape, "is_shape_tensor": False}
        if not output:
            entry.update({"format": "FORMAT_NONE", "allow_ragged_batch": False, "optional": False})
        return entry

    config = {
        "name": model,
        "platform": PLATFORMS.get(artifact.format, artifact.format),
        "backend": BACKENDS.get(artifact.format, ""),
        "version_policy": {"all": {}},
        "max_batch_size": rows if batched else 0,
        "input": [tensor(t, False) for t in endpoint.inputs],
        "output": [tensor(t, True) for t in endpoint.outputs],
        "instance_group": [{"name": f"{model}_0", "kind": "KIND_CPU", "count": 1}],
        # ModelConfig's free-form parameters: the precision the artifact was exported at.
        "parameters": {"precision": {"string_value": artifact.precision}},
    }
    if batched and rows > 1:
        config["dynamic_batching"] = {
            "max_queue_delay_microseconds": int(round(getattr(runner, "max_delay_ms", 0) * 1000)),
            "preferred_batch_size": []}
    return config


def statistics(repository, model=None, version=None):
    """``ModelStatisticsResponse`` as a dict: every available version asked for.

    Args:
        repository: the `Repository`.
        model: `str` or `None` (every model).
        version: `int` or `None` (every available version of `model`).

    Raises:
        NotFound: an unknown model, or a version that is not available.
    """
    models = repository.models()
    if model is not None and version is not None:
        chosen = [(model, repository.get(model, version))]
    elif model is not None:
        if model not in models:
            raise NotFound(f"Model {model!r} not found. Available: {sorted(models)}.")
        chosen = [(model, v) for v in models[model] if v.state == AVAILABLE]
    else:
        chosen = [(m, v) for m, vs in models.items() for v in vs if v.state == AVAILABLE]
    return {"model_stats": [_version_stats(m, v) for m, v in chosen]}


def _version_stats(model, served):
    runner = served.runner
    counts = runner.stats.snapshot() if runner is not None else None
    if counts is None:
        counts = {"success": (0, 0), "fail": (0, 0), "queue": (0, 0), "compute_infer": (0, 0),
                  "inference_count": 0, "execution_count": 0, "last_inference": 0, "batches": {}}
    success = counts["success"][0]
    zero = _duration((success, 0))  # inputs and outputs are not timed apart from the request
    return {
        "name": model,
        "version": str(served.number),
        "last_inference": counts["last_inference"],
        "inference_count": counts["inference_count"],
        "execution_count": counts["execution_count"],
        "inference_stats": {
            "success": _duration(counts["success"]), "fail": _duration(counts["fail"]),
            "queue": _duration(counts["queue"]), "compute_input": zero,
            "compute_infer": _duration(counts["compute_infer"]), "compute_output": zero,
            "cache_hit": _duration((0, 0)), "cache_miss": _duration((0, 0)),
        },
        "batch_stats": [
            {"batch_size": rows, "compute_input": _duration((n, 0)),
             "compute_infer": _duration((n, ns)), "compute_output": _duration((n, 0))}
            for rows, (n, ns) in counts["batches"].items()
        ],
        "memory_usage": [],
    }


def _duration(pair):
    return {"count": int(pair[0]), "ns": int(pair[1])}


def repository_index(repository, ready_only=False):
    """Triton's repository index: each version's state and, if it failed, why.

    A model unloaded by request is listed once, ``UNAVAILABLE`` with the
    reason ``unloaded``, until it is loaded again.
    """
    states = {AVAILABLE: "READY", FAILED: "UNAVAILABLE", UNLOADING: "UNLOADING"}
    index = []
    for name, versions in repository.models().items():
        if not versions and repository.held(name):
            if not ready_only:
                index.append({"name": name, "version": "", "state": "UNAVAILABLE", "reason": "unloaded"})
            continue
        for v in versions:
            state = states.get(v.state, "UNAVAILABLE")
            if not ready_only or state == "READY":
                index.append({"name": name, "version": str(v.number), "state": state, "reason": v.error})
    return index
