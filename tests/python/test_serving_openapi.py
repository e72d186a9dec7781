"""/openapi.json against other people's tools: openapi-spec-validator reads it as
OpenAPI 3.1, and schemathesis fuzzes every route it describes on a live server
(bounded examples per route): no 5xx, every answer as the document says
(status, content type, headers, body schema), and the server still live."""

import os
import shutil

import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (requirements.txt)")
validator = pytest.importorskip("openapi_spec_validator",
                                reason="openapi-spec-validator is not installed (requirements.txt)")
from hypothesis import HealthCheck, Phase, settings  # noqa: E402  (schemathesis brings hypothesis)

pytestmark = requires_tensorflow_backend

# The protocol suite's repository without `picky`, whose runtime fails on purpose (500).
FUZZED = ("mlp", "mlp_sm", "two", "fixed", "text")
MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def server(serving_artifacts, tmp_path_factory):
    import kerasexport

    root = tmp_path_factory.mktemp("openapi") / "models"
    for name in FUZZED:
        shutil.copytree(os.path.join(serving_artifacts.root, name), root / name)
    with kerasexport.Server(root, port=0, poll_seconds=0.3, quiet=True) as server:
        yield server


@pytest.fixture(scope="module")
def client(server):
    client = serving_kit.Client(server.url)
    yield client
    client.close()


def test_the_document_is_valid_openapi_3_1(client):
    status, doc = client.json("GET", "/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    # raises on any violation of the OpenAPI 3.1 schema and of its rules (parameters, refs)
    validator.validate(doc, cls=validator.OpenAPIV31SpecValidator)


def test_every_route_of_the_app_is_described(client, server):
    from starlette.routing import Route

    _, doc = client.json("GET", "/openapi.json")
    app = server._uvicorn.config.app.app
    for route in app.routes:
        if isinstance(route, Route):
            assert route.path in doc["paths"], route.path
            for method in route.methods - {"HEAD"}:
                assert method.lower() in doc["paths"][route.path], (route.path, method)


def test_each_model_has_request_schemas_from_its_signature(client):
    import jsonschema

    _, doc = client.json("GET", "/openapi.json")
    predict = doc["paths"]["/v1/models/two:predict"]["post"]["requestBody"]["content"]["application/json"]
    schema = predict["schema"]
    good_rows = {"instances": [{"a": [1, 2, 3], "b": [1, 2, 3, 4, 5]}]}
    good_columns = {"inputs": {"a": [[1, 2, 3]], "b": [[1, 2, 3, 4, 5]]}}
    for body in (good_rows, good_columns, predict["example"]):
        jsonschema.validate(body, schema)
    for bad in ({"instances": [{"a": [1, 2], "b": [1, 2, 3, 4, 5]}]}, {"inputs": {"a": [[1, 2, 3]]}},
                {"instances": [[1, 2, 3]]}, {"instances": good_rows["instances"], "inputs": {}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    infer = doc["paths"]["/v2/models/mlp/versions/2/infer"]["post"]["requestBody"]["content"]["application/json"]
    jsonschema.validate({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [0] * 8}]},
                        infer["schema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"inputs": [{"name": "x", "shape": [2, 5], "datatype": "FP32", "data": [0] * 10}]},
                            infer["schema"])
    text = doc["paths"]["/v1/models/text:predict"]["post"]["requestBody"]["content"]["application/json"]
    jsonschema.validate({"instances": ["a", {"b64": "YWJj"}]}, text["schema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"instances": [{"b64": "not base64!"}]}, text["schema"])


def test_each_documented_example_is_answered(client):
    _, doc = client.json("GET", "/openapi.json")
    examples = [(path, item["post"]["requestBody"]["content"]["application/json"]["example"])
                for path, item in doc["paths"].items()
                if "{" not in path and "post" in item and "example" in
                item["post"]["requestBody"]["content"]["application/json"]]
    assert len(examples) >= 2 * len(FUZZED)
    for path, body in examples:
        status, answer = client.json("POST", path, body)
        assert status == 200, (path, answer)


def test_a_new_version_appears_in_the_document(client, serving_artifacts, server):
    import time

    serving_kit.copy_version(serving_artifacts.onnx["mlp2"], str(server.repository.root), "mlp", 7)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, doc = client.json("GET", "/openapi.json")
        if "/v1/models/mlp/versions/7:predict" in doc["paths"]:
            break
        time.sleep(0.2)
    assert "/v2/models/mlp/versions/7/infer" in doc["paths"]
    shutil.rmtree(os.path.join(server.repository.root, "mlp", "7"))


def test_the_fuzzer_finds_no_5xx_and_no_answer_off_the_document(server, client):
    from hypothesis import given
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                                   response_schema_conformance, status_code_conformance)

    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_headers_conformance, response_schema_conformance]
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    failures, calls = [], []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def fuzz(case):
            calls.append(operation.label)
            case.call_and_validate(timeout=30, checks=checks)

        try:
            fuzz()
        except Exception as exc:  # every route is fuzzed; the failures are reported together
            failures.append(f"{operation.label}: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
    assert set(calls) == {o.label for o in operations} and len(calls) > 5 * len(operations)
    assert client.request("GET", "/v2/health/live")[0] == 200
