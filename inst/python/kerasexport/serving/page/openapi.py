"""The server's OpenAPI 3.1 document, built from the repository as it is now.

Every HTTP route of `serving.app` is described, with the error object
both protocols answer (``{"error": message}``). Model-independent routes
(status, metadata, readiness) take the model as a path parameter; each
model with an available version also gets its own ``:predict`` and
``/infer`` paths, for the latest version and for each available version,
whose request and response schemas come from that version's endpoints
(`schemas.py`): TF-Serving's row (``instances``) and columnar (``inputs``)
formats, one variant per endpoint (``signature_name``), and KServe v2
tensors. The templated ``:predict`` and ``/infer`` paths then stand for
the models that have no such path: they answer 404. The document is
rebuilt on each request, so new versions appear in it as they are served.
"""

from kerasexport.serving.page import schemas
from kerasexport.serving.repository import AVAILABLE

OPENAPI = "3.1.0"
TITLE = "kerasexport model server"
JSON = "application/json"
_ERROR = {"$ref": "#/components/schemas/Error"}


def document(models, *, version, token):
    """The OpenAPI document of a server serving `models`.

    Args:
        models: `{model: [Version, ...]}`, as `Repository.models()` returns.
        version: `str`, the server's version.
        token: `bool`, whether the server requires a bearer token.

    Returns:
        The document, as a `dict` ready to be written as JSON.
    """
    served = {name: [v for v in versions if v.state == AVAILABLE and v.artifact is not None]
              for name, versions in models.items()}
    served = {name: versions for name, versions in served.items() if versions}
    paths = {}
    paths.update(_page_paths())
    paths.update(_tfserving_paths(sorted(served)))
    paths.update(_kserve_paths(sorted(served)))
    paths.update(_triton_paths())
    for name, versions in served.items():
        paths.update(_model_paths(name, versions))
    doc = {
        "openapi": OPENAPI,
        "info": {"title": TITLE, "version": version,
                 "description": "TensorFlow Serving's REST API and KServe v2 (the Open Inference "
                                "Protocol) over the models of this server, with their signatures."},
        "paths": paths,
        "components": {"schemas": _COMPONENTS, "responses": _responses()},
    }
    if token:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
        for path, item in paths.items():
            for operation in item.values():
                if path in _OPEN:
                    operation["security"] = []
                else:
                    operation["responses"]["401"] = {"$ref": "#/components/responses/Unauthorized"}
    return doc


# Paths shared by every model ----

_OPEN = {"/v2/health/live", "/v2/health/ready", "/", "/docs", "/page/{asset}", "/docs/{asset}"}


def _operation(summary, responses, *, parameters=(), body=None, operation_id=None, tags=(),
               description=None):
    operation = {"summary": summary, "responses": responses}
    if description:
        operation["description"] = description
    if operation_id:
        operation["operationId"] = operation_id
    if tags:
        operation["tags"] = list(tags)
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
    return operation


def _ok(schema=None, media=JSON, description="OK"):
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {media: {"schema": schema}}}


def _refs(*names):
    return {code: {"$ref": f"#/components/responses/{name}"} for code, name in names}


def _model_parameter(exclude=()):
    schema = {"type": "string", "minLength": 1}
    if exclude:
        schema["not"] = {"enum": list(exclude)}
    return {"name": "model", "in": "path", "required": True, "schema": schema}


_VERSION = {"name": "version", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1},
            "description": "A positive whole number; without it, the latest available version."}
_ASSET_TEXT = {"text/html": {"schema": {"type": "string"}}}


def _page_paths():
    from kerasexport.serving.page import assets

    def asset(names, summary, operation_id):
        parameter = {"name": "asset", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": sorted(names)}}
        return {"get": _operation(summary, {"200": {"description": "The file.", "content": {
            "text/javascript": {"schema": {"type": "string"}}, "text/css": {"schema": {"type": "string"}}}},
            **_refs(("404", "NotFound"))}, parameters=[parameter], operation_id=operation_id,
            tags=["page"])}

    return {
        "/": {"get": _operation("The page: the models, their signatures, a form to try each.",
                                {"200": {"description": "HTML.", "content": _ASSET_TEXT}},
                                operation_id="page", tags=["page"])},
        "/page/{asset}": asset(assets.PAGE, "The page's scripts and styles.", "page_asset"),
        "/page/models": {"get": _operation(
            "What the page shows: each model's versions, states and endpoints, with an example request.",
            {"200": _ok({"$ref": "#/components/schemas/PageModels"})}, operation_id="page_models",
            tags=["page"])},
        "/openapi.json": {"get": _operation("This document.", {"200": _ok({"type": "object"})},
                                            operation_id="openapi", tags=["page"])},
        "/docs": {"get": _operation("Swagger UI over this document.",
                                    {"200": {"description": "HTML.", "content": _ASSET_TEXT},
                                     **_refs(("404", "NotFound"))}, operation_id="docs", tags=["page"])},
        "/docs/{asset}": asset(assets.DOCS, "Swagger UI's scripts and styles.", "docs_asset"),
        "/metrics": {"get": _operation("Prometheus metrics.", {"200": _ok({"type": "string"}, "text/plain")},
                                       operation_id="metrics", tags=["operations"])},
    }


def _tfserving_paths(served):
    lookups = _refs(("400", "BadRequest"), ("404", "NotFound"))
    status = {"get": _operation("Model status (GetModelStatusResponse).",
                                {"200": _ok({"$ref": "#/components/schemas/ModelStatus"}), **lookups},
                                tags=["tfserving"])}
    metadata = {"get": _operation("Model metadata: every endpoint as a signature_def.",
                                  {"200": _ok({"$ref": "#/components/schemas/ModelMetadata"}), **lookups},
                                  tags=["tfserving"])}
    predict = {"post": _operation(
        "Predict with a model this document has no path of its own for: 404.",
        {"200": _coded(_ok({"$ref": "#/components/schemas/PredictResponse"})), **_post_errors()},
        body=_body({"$ref": "#/components/schemas/PredictRequest"}), tags=["tfserving"],
        parameters=_CODINGS)}
    paths = {}
    for suffix, item in (("", status), ("/metadata", metadata)):
        for versioned in (False, True):
            path = "/v1/models/{model}" + ("/versions/{version}" if versioned else "") + suffix
            paths[path] = _with_parameters(item, versioned, ())
    paths["/v1/models/{model}:predict"] = _with_parameters(predict, False, served)
    paths["/v1/models/{model}/versions/{version}:predict"] = _with_parameters(predict, True, served)
    labelled_predict = {"post": dict(predict["post"], summary=(
        "Predict with the version a label names (version_labels of --model-config-file)."))}
    for suffix, item in (("", status), ("/metadata", metadata), (":predict", labelled_predict)):
        paths["/v1/models/{model}/labels/{label}" + suffix] = _with_label(item)
    return paths


_LABEL = {"name": "label", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
          "description": "A version label of TF-Serving's model config file (version_labels)."}


def _with_label(item):
    (method, operation), = item.items()
    operation = dict(operation, responses=dict(operation["responses"]))
    operation["parameters"] = [_model_parameter(), _LABEL] + list(operation.get("parameters", ()))
    return {method: operation}


def _kserve_paths(served):
    lookups = _refs(("400", "BadRequest"), ("404", "NotFound"))
    empty = {"description": "No body."}
    paths = {
        "/v2": {"get": _operation("Server metadata.", {"200": _ok({"$ref": "#/components/schemas/ServerMetadata"})},
                                  operation_id="v2_server", tags=["kserve"])},
        "/v2/health/live": {"get": _operation("200 while the server answers.", {"200": empty},
                                              operation_id="v2_live", tags=["kserve"])},
        "/v2/health/ready": {"get": _operation("200 once every model has a version available.",
                                               {"200": empty, "400": {"description": "Not ready yet."}},
                                               operation_id="v2_ready", tags=["kserve"])},
        "/v2/repository/index": {"post": _operation(
            "Each version's state and load error (Triton's repository extension).",
            {"200": _ok({"$ref": "#/components/schemas/RepositoryIndex"})},
            body={"required": False, "content": {JSON: {"schema": {"description": "Ignored."}}}},
            operation_id="v2_index", tags=["kserve"])},
    }
    metadata = {"get": _operation("Model metadata of the default endpoint.",
                                  {"200": _ok({"$ref": "#/components/schemas/V2ModelMetadata"}), **lookups},
                                  tags=["kserve"])}
    ready = {"get": _operation("200 when the version can infer, else 404 and why.",
                               {"200": empty, **lookups}, tags=["kserve"])}
    infer = {"post": _operation(
        "Infer with a model this document has no path of its own for: 404.",
        {"200": _infer_ok({"$ref": "#/components/schemas/InferResponse"}), **_post_errors()},
        body=_infer_body({"$ref": "#/components/schemas/InferRequest"}), tags=["kserve"],
        description=_BINARY, parameters=_CODINGS)}
    for suffix, item in (("", metadata), ("/ready", ready)):
        for versioned in (False, True):
            path = "/v2/models/{model}" + ("/versions/{version}" if versioned else "") + suffix
            # GET /v2/models/stats is the statistics of every model, not a model called "stats".
            paths[path] = _with_parameters(item, versioned, () if versioned or suffix else _STATS)
    paths["/v2/models/{model}/infer"] = _with_parameters(infer, False, served)
    paths["/v2/models/{model}/versions/{version}/infer"] = _with_parameters(infer, True, served)
    return paths


_STATS = ("stats",)


def _triton_paths():
    """Triton's model-configuration, statistics and repository extensions."""
    lookups = _refs(("400", "BadRequest"), ("404", "NotFound"))
    config = {"get": _operation("Triton's model configuration of a version (its default endpoint).",
                                {"200": _ok({"$ref": "#/components/schemas/ModelConfig"}), **lookups},
                                tags=["triton"])}
    stats = {"get": _operation("Triton's statistics: requests, executions, queue and compute times.",
                               {"200": _ok({"$ref": "#/components/schemas/ModelStatistics"}), **lookups},
                               tags=["triton"])}
    done = {"200": {"description": "Done; no body."}, **_refs(("404", "NotFound"))}
    body = {"required": False, "content": {JSON: {"schema": {"description": "Ignored."}}}}
    paths = {"/v2/models/stats": {"get": dict(stats["get"], operationId="v2_stats_all")}}
    for suffix, item in (("/config", config), ("/stats", stats)):
        for versioned in (False, True):
            path = "/v2/models/{model}" + ("/versions/{version}" if versioned else "") + suffix
            paths[path] = _with_parameters(item, versioned, ())
    for action, summary in (("load", "Load the model now (after an unload, serve it again)."),
                            ("unload", "Stop serving the model until it is loaded again.")):
        paths[f"/v2/repository/models/{{model}}/{action}"] = _with_parameters(
            {"post": _operation(summary, done, body=body, tags=["triton"])}, False, ())
    return paths


def _with_parameters(item, versioned, exclude):
    (method, operation), = item.items()
    operation = dict(operation, responses=dict(operation["responses"]))
    parameters = [_model_parameter(exclude)] + ([_VERSION] if versioned else [])
    operation["parameters"] = parameters + list(operation.get("parameters", ()))
    return {method: operation}


def _post_errors():
    return _refs(("400", "BadRequest"), ("404", "NotFound"), ("413", "TooLarge"),
                 ("415", "UnsupportedEncoding"), ("500", "RuntimeFailure"))


# serving/content_coding.py: what an inference request may be compressed with, and its answer.
_CODINGS = (
    {"name": "Content-Encoding", "in": "header", "required": False,
     "description": "The body's compression: gzip or deflate (zlib; raw deflate is read too), or none.",
     "schema": {"type": "string", "enum": ["gzip", "x-gzip", "deflate", "identity"]}},
    {"name": "Accept-Encoding", "in": "header", "required": False,
     "description": "Ask for the answer compressed: gzip or deflate, with q weights.",
     "schema": {"type": "string"}, "example": "gzip"},
)


def _coded(response):
    """A 200 that `Accept-Encoding` may have compressed."""
    headers = {"Content-Encoding": {"description": "gzip or deflate when Accept-Encoding asked for it.",
                                    "schema": {"type": "string", "enum": ["gzip", "deflate"]}}}
    return dict(response, headers={**response.get("headers", {}), **headers})


def _body(schema, example=None):
    media = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"required": True, "content": {JSON: media}}


def _infer_body(schema, example=None):
    return _body(schema, example)


_BINARY = ("Triton's binary tensor extension is taken too: a body of the JSON request followed by "
           "each input's bytes (an input's parameters give its binary_data_size), with the header "
           "Inference-Header-Content-Length giving the JSON part's length. It is described here, "
           "not as a request body, because that header goes with that body only.")


def _infer_ok(schema):
    return _coded({"description": "The outputs: JSON, or a JSON header and binary outputs.",
            "headers": {"Inference-Header-Content-Length": {"schema": {"type": "integer", "minimum": 0}}},
            "content": {JSON: {"schema": schema},
                        "application/octet-stream": {"schema": {"type": "string"}}}})


# Paths of one model ----


def _model_paths(name, versions):
    latest = max(versions, key=lambda v: v.number)
    paths = {}
    for version, prefix in [(latest, "")] + [(v, f"/versions/{v.number}") for v in versions]:
        artifact = version.artifact
        which = "the latest version" if not prefix else f"version {version.number}"
        paths[f"/v1/models/{name}{prefix}:predict"] = {"post": _operation(
            f"Predict with {name}, {which} (TF-Serving's row or columnar format).",
            {"200": _coded(_ok(_predict_response(artifact))), **_post_errors()},
            body=_body(_predict_request(artifact), _predict_example(artifact)), tags=[name],
            parameters=_CODINGS)}
        paths[f"/v2/models/{name}{prefix}/infer"] = {"post": _operation(
            f"Infer with {name}, {which} (KServe v2 tensors).",
            {"200": _infer_ok(_infer_response(artifact)), **_post_errors()},
            body=_infer_body(_infer_request(artifact), _infer_example(artifact)), tags=[name],
            description=_BINARY, parameters=_CODINGS)}
    return paths


def _predict_request(artifact):
    variants = []
    default = artifact.endpoint()
    for endpoint in artifact.endpoints.values():
        names = [endpoint.name] + (["serving_default"] if endpoint is default
                                    and "serving_default" not in artifact.endpoints else [])
        # No name, null or "" mean the default endpoint, as the codec reads them.
        signature = {"enum": names + (["", None] if endpoint is default else [])}
        required = [] if endpoint is default else ["signature_name"]
        rows = {"type": "object", "required": required + ["instances"],
                "properties": {"signature_name": signature, "instances": _instances(endpoint),
                               "inputs": False}}
        columns = {"type": "object", "required": required + ["inputs"],
                   "properties": {"signature_name": signature, "inputs": _columns(endpoint),
                                  "instances": False}}
        variants += [dict(rows, title=f"{endpoint.name}, row format"),
                     dict(columns, title=f"{endpoint.name}, columnar format")]
    return {"anyOf": variants}


def _instances(endpoint):
    if len(endpoint.inputs) == 1:
        info = endpoint.inputs[0]
        row = schemas.tensor(info, rows=True)
        return _rows_array(info, row)
    row = {"type": "object", "required": [t.name for t in endpoint.inputs], "additionalProperties": False,
           "properties": {t.name: schemas.tensor(t, rows=True) for t in endpoint.inputs}}
    return _rows_array(endpoint.inputs[0], row)


def _rows_array(info, row):
    schema = {"type": "array", "items": row, "minItems": 1}
    if info.shape and info.shape[0] is not None:
        schema["minItems"] = schema["maxItems"] = info.shape[0]
    return schema


def _columns(endpoint):
    if len(endpoint.inputs) == 1:
        tensor = schemas.tensor(endpoint.inputs[0])
        return {"anyOf": [tensor, {"type": "object", "minProperties": 1, "maxProperties": 1,
                                   "additionalProperties": tensor}]}
    return {"type": "object", "required": [t.name for t in endpoint.inputs], "additionalProperties": False,
            "properties": {t.name: schemas.tensor(t) for t in endpoint.inputs}}


def _predict_response(artifact):
    variants = []
    for endpoint in artifact.endpoints.values():
        outputs = endpoint.outputs
        if len(outputs) == 1:
            rows = {"type": "array", "items": schemas.tensor(outputs[0], rows=True, output=True)}
            columns = schemas.tensor(outputs[0], output=True)
        else:
            rows = {"type": "array", "items": {"type": "object", "required": [t.name for t in outputs],
                    "properties": {t.name: schemas.tensor(t, rows=True, output=True) for t in outputs}}}
            columns = {"type": "object", "required": [t.name for t in outputs],
                       "properties": {t.name: schemas.tensor(t, output=True) for t in outputs}}
        variants += [{"type": "object", "required": ["predictions"], "properties": {"predictions": rows}},
                     {"type": "object", "required": ["outputs"], "properties": {"outputs": columns}}]
    return {"anyOf": variants}


def _predict_example(artifact):
    endpoint = artifact.endpoint()
    if len(endpoint.inputs) == 1:
        return {"inputs": schemas.example(endpoint.inputs[0])}
    return {"inputs": {t.name: schemas.example(t) for t in endpoint.inputs}}


def _infer_request(artifact):
    endpoint = artifact.endpoint()
    single = len(endpoint.inputs) == 1

    def tensor(info):
        return {"type": "object", "required": ["name", "shape", "datatype", "data"],
                "properties": {"name": {"type": "string"} if single else {"const": info.name},
                               "shape": schemas.v2_shape(info),
                               "datatype": {"const": schemas.v2_datatype(info)},
                               "data": schemas.v2_data(info),
                               "parameters": {"type": "object"}}}

    names = [t.name for t in endpoint.outputs]
    return {"type": "object", "required": ["inputs"], "properties": {
        "id": {"type": "string"},
        "parameters": {"type": "object", "properties": {"binary_data_output": {"type": ["boolean", "null"]}}},
        "inputs": {"type": "array", "minItems": len(endpoint.inputs), "maxItems": len(endpoint.inputs),
                   "prefixItems": [tensor(t) for t in endpoint.inputs], "items": False},
        "outputs": {"type": "array", "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"} if len(names) == 1 else {"enum": names},
                           "parameters": {"type": "object",
                                          "properties": {"binary_data": {"type": ["boolean", "null"]}}}}}},
    }}


def _infer_response(artifact):
    endpoint = artifact.endpoint()
    return {"type": "object", "required": ["model_name", "model_version", "outputs"], "properties": {
        "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
        "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/OutputTensor"},
                    "maxItems": len(endpoint.outputs)}}}


def _infer_example(artifact):
    endpoint = artifact.endpoint()
    return {"inputs": [{"name": t.name, "shape": list(schemas.example_shape(t)),
                        "datatype": schemas.v2_datatype(t), "data": schemas.example(t)}
                       for t in endpoint.inputs]}


# Components ----


def _responses():
    def error(description):
        return {"description": description, "content": {JSON: {"schema": _ERROR}}}

    return {
        "BadRequest": error("A body the codec refuses, inputs that do not fit the signature, a bad version."),
        "NotFound": error("Unknown model or version, or no version available."),
        "Unauthorized": error("No or a wrong bearer token."),
        "TooLarge": error("A body over the server's limit (--max-body-mb), or one that inflates past it."),
        "UnsupportedEncoding": dict(
            error("A Content-Encoding other than gzip, deflate or identity."),
            headers={"Accept-Encoding": {"description": "The codings this server reads.",
                                         "schema": {"type": "string", "example": "gzip, deflate"}}}),
        "RuntimeFailure": error("The model's runtime failed on valid inputs; the server keeps serving."),
    }


_TENSOR_METADATA = {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
    "name": {"type": "string"}, "datatype": {"type": "string"},
    "shape": {"type": "array", "items": {"type": "integer"}}}}
_SIGNATURE_TENSOR = {"type": "object", "properties": {
    "name": {"type": "string"}, "dtype": {"type": "string"},
    "tensor_shape": {"type": "object", "properties": {
        "dim": {"type": "array", "items": {"type": "object", "properties": {
            "size": {"type": "string"}, "name": {"type": "string"}}}},
        "unknown_rank": {"type": "boolean"}}}}}
_PAGE_TENSOR = {"type": "object", "required": ["name", "dtype", "shape"], "properties": {
    "name": {"type": "string"}, "dtype": {"type": "string"},
    "shape": {"type": ["array", "null"], "items": {"type": ["integer", "null"]}},
    "image": {"type": ["object", "null"]}}}

_COMPONENTS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "ModelStatus": {"type": "object", "required": ["model_version_status"], "properties": {
        "model_version_status": {"type": "array", "items": {
            "type": "object", "required": ["version", "state", "status"], "properties": {
                "version": {"type": "string"},
                "state": {"enum": ["UNKNOWN", "START", "LOADING", "AVAILABLE", "UNLOADING", "END"]},
                "status": {"type": "object", "properties": {
                    "error_code": {"type": "string"}, "error_message": {"type": "string"}}}}}}}},
    "ModelMetadata": {"type": "object", "required": ["model_spec", "metadata"], "properties": {
        "model_spec": {"type": "object", "properties": {
            "name": {"type": "string"}, "signature_name": {"type": "string"}, "version": {"type": "string"}}},
        "metadata": {"type": "object", "properties": {
            "signature_def": {"type": "object", "properties": {"signature_def": {
                "type": "object", "additionalProperties": {"type": "object", "properties": {
                    "inputs": {"type": "object", "additionalProperties": _SIGNATURE_TENSOR},
                    "outputs": {"type": "object", "additionalProperties": _SIGNATURE_TENSOR},
                    "method_name": {"type": "string"}}}}}},
            "kerasexport": {"type": "object"}}}}},
    "PredictRequest": {"anyOf": [
        {"type": "object", "required": ["instances"], "properties": {
            "signature_name": {"type": "string"}, "instances": {"type": "array", "minItems": 1},
            "inputs": False}},
        {"type": "object", "required": ["inputs"], "properties": {
            "signature_name": {"type": "string"}, "instances": False}}]},
    "PredictResponse": {"type": "object", "properties": {"predictions": {"type": "array"}, "outputs": {}}},
    "ServerMetadata": {"type": "object", "required": ["name", "version", "extensions"], "properties": {
        "name": {"type": "string"}, "version": {"type": "string"},
        "extensions": {"type": "array", "items": {"type": "string"}}}},
    "V2ModelMetadata": {"type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"],
                        "properties": {"name": {"type": "string"},
                                       "versions": {"type": "array", "items": {"type": "string"}},
                                       "platform": {"type": "string"},
                                       "inputs": {"type": "array", "items": _TENSOR_METADATA},
                                       "outputs": {"type": "array", "items": _TENSOR_METADATA}}},
    "RepositoryIndex": {"type": "array", "items": {
        "type": "object", "required": ["name", "version", "state"], "properties": {
            "name": {"type": "string"}, "version": {"type": "string"},
            "state": {"enum": ["READY", "UNAVAILABLE", "UNLOADING"]}, "reason": {"type": "string"}}}},
    "InferRequest": {"type": "object", "required": ["inputs"], "properties": {
        "id": {"type": "string"}, "parameters": {"type": "object"},
        "inputs": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        "outputs": {"type": "array", "items": {"type": "object"}}}},
    "InferResponse": {"type": "object", "required": ["model_name", "model_version", "outputs"], "properties": {
        "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
        "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/OutputTensor"}}}},
    "OutputTensor": {"type": "object", "required": ["name", "datatype", "shape"], "properties": {
        "name": {"type": "string"}, "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "data": {"type": "array"},
        "parameters": {"type": "object", "properties": {"binary_data_size": {"type": "integer"}}}}},
    "ModelConfig": {"type": "object", "required": ["name", "max_batch_size", "input", "output"], "properties": {
        "name": {"type": "string"}, "platform": {"type": "string"}, "backend": {"type": "string"},
        "max_batch_size": {"type": "integer", "minimum": 0},
        "input": {"type": "array", "items": {"type": "object"}},
        "output": {"type": "array", "items": {"type": "object"}},
        "dynamic_batching": {"type": "object"}, "instance_group": {"type": "array"},
        "version_policy": {"type": "object"}, "parameters": {"type": "object"}}},
    "ModelStatistics": {"type": "object", "required": ["model_stats"], "properties": {
        "model_stats": {"type": "array", "items": {
            "type": "object", "required": ["name", "version", "inference_count", "execution_count"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                           "last_inference": {"type": "integer"}, "inference_count": {"type": "integer"},
                           "execution_count": {"type": "integer"}, "inference_stats": {"type": "object"},
                           "batch_stats": {"type": "array"}, "memory_usage": {"type": "array"}}}}}},
    "PageModels": {"type": "object", "required": ["models"], "properties": {
        "server": {"type": "string"}, "token": {"type": "boolean"},
        "models": {"type": "array", "items": {"type": "object", "required": ["name", "versions"], "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "object", "required": ["version", "state"],
                                                    "properties": {
                "version": {"type": "integer"}, "state": {"type": "string"}, "error": {"type": "string"},
                "format": {"type": ["string", "null"]}, "precision": {"type": ["string", "null"]},
                "endpoints": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "default": {"type": "boolean"},
                    "inputs": {"type": "array", "items": _PAGE_TENSOR},
                    "outputs": {"type": "array", "items": _PAGE_TENSOR},
                    "example": {"type": "object"}}}}}}}}}}}},
}
