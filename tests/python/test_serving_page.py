"""The page at GET /, in a real browser: Debian's chromium driven by Playwright's
Python API (never a downloaded browser). It loads with no console errors, lists
the repository's models, a prediction made through its form matches the model,
an uploaded image reaches the model at the model's size, a bad input shows the
server's own message, and it asks for the token when the server wants one.
Screenshots land in each test's tmp_path. Also, without a browser: the page's
files are served from the package, open without a token, and /docs works."""

import json
import os
import shutil
import struct
import time
import zlib

import keras
import numpy as np
import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend
CHROMIUM = shutil.which("chromium")
TOKEN = "page-token"
WAIT_MS = 20_000


def _browser_or_skip():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup-system.sh installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (requirements.txt)")
    return sync_playwright


def image_model():
    """(8, 8, 3) images -> each channel's mean: what reached the model, pixel for pixel."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3), name="image")
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs))


def png(width, height, rgb):
    """A solid-colour RGB PNG, written by hand (zlib + CRCs)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def repository(serving_artifacts, tmp_path_factory):
    import kerasexport

    root = tmp_path_factory.mktemp("page") / "models"
    for name in ("mlp", "two"):
        shutil.copytree(os.path.join(serving_artifacts.root, name), root / name)
    kerasexport.export(image_model(), str(root / "image" / "1" / "model.onnx"), format="onnx")
    return root


@pytest.fixture(scope="module")
def server(repository):
    import kerasexport

    with kerasexport.Server(repository, port=0, poll_seconds=0.3, quiet=True) as server:
        yield server


@pytest.fixture(scope="module")
def guarded(repository):
    import kerasexport

    with kerasexport.Server(repository, port=0, poll_seconds=0, quiet=True, token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    yield page
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    context.close()


def _open(page, server):
    page.goto(f"{server.url}/")
    page.wait_for_selector('section.model[data-model="two"] textarea.request', timeout=WAIT_MS)


def _send(card, body):
    card.locator("textarea.request").fill(body)
    card.locator("button.send").click()
    card.locator(".result .meta", has_text="HTTP").wait_for(timeout=WAIT_MS)


def test_the_page_lists_every_model_with_versions_and_signatures(page, server):
    _open(page, server)
    names = page.locator("section.model").evaluate_all("cards => cards.map(c => c.dataset.model)")
    assert sorted(names) == ["image", "mlp", "two"]
    mlp = page.locator('section.model[data-model="mlp"]')
    assert mlp.locator(".versions li").all_inner_texts() == ["version 2: available (onnx, float32)",
                                                             "version 1: available (onnx, float32)"]
    inputs = page.locator('section.model[data-model="two"] table.input tbody tr').all_inner_texts()
    assert [" ".join(row.split()) for row in inputs] == ["a float32 (None, 3)", "b float32 (None, 5)"]
    outputs = page.locator('section.model[data-model="two"] table.output tbody tr').all_inner_texts()
    assert sorted(row.split()[0] for row in outputs) == ["first", "second"]
    for link in ("/docs", "/metrics", "/openapi.json"):
        assert page.locator(f'header a[href="{link}"]').count() == 1
    assert page.problems == []


def test_a_prediction_through_the_form_matches_the_model(page, server, serving_artifacts):
    _open(page, server)
    card = page.locator('section.model[data-model="two"]')
    x = {"a": [[0.5, -1.0, 2.0], [1.0, 0.0, 0.25]], "b": [[1, 2, 3, 4, 5], [0.1, 0.2, 0.3, 0.4, 0.5]]}
    _send(card, json.dumps({"inputs": x}))
    assert "HTTP 200" in card.locator(".result .meta").inner_text()
    assert "ms" in card.locator(".result .meta").inner_text()
    answer = json.loads(card.locator(".result pre.answer").inner_text())["outputs"]
    expected = serving_kit.keras_outputs(serving_artifacts.models["two"],
                                         {k: np.asarray(v, "float32") for k, v in x.items()})
    for name in ("first", "second"):
        np.testing.assert_allclose(answer[name], expected[name], rtol=1e-5, atol=1e-5)
    # The example the form starts from is a valid request too, and a chosen version is asked.
    mlp = page.locator('section.model[data-model="mlp"]')
    mlp.locator("select.version").select_option("1")
    start = json.loads(mlp.locator("textarea.request").input_value())
    mlp.locator("button.send").click()
    mlp.locator(".result pre.answer").wait_for(timeout=WAIT_MS)
    got = json.loads(mlp.locator(".result pre.answer").inner_text())["outputs"]
    want = serving_kit.keras_outputs(serving_artifacts.models["mlp1"], np.asarray(start["inputs"], "float32"))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert page.problems == []


def test_an_uploaded_image_reaches_the_model_at_its_size(page, server, tmp_path):
    _open(page, server)
    card = page.locator('section.model[data-model="image"]')
    picture = tmp_path / "photo.png"
    picture.write_bytes(png(40, 30, (200, 100, 50)))  # not 8x8: the page resizes it
    before = card.locator("textarea.request").input_value()
    card.locator('input[type=file][data-input="image"]').set_input_files(str(picture))
    deadline = time.monotonic() + 10
    while card.locator("textarea.request").input_value() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = json.loads(card.locator("textarea.request").input_value())["inputs"]
    assert np.asarray(sent).shape == (1, 8, 8, 3)
    card.locator("button.send").click()
    card.locator(".result pre.answer").wait_for(timeout=WAIT_MS)
    means = json.loads(card.locator(".result pre.answer").inner_text())["outputs"]
    np.testing.assert_allclose(means, [[200, 100, 50]], atol=2)
    assert page.problems == []


def test_a_bad_input_shows_the_servers_message(page, server):
    _open(page, server)
    card = page.locator('section.model[data-model="mlp"]')
    _send(card, json.dumps({"instances": [[1, 2, 3]]}))
    assert "HTTP 400" in card.locator(".result .meta").inner_text()
    shown = card.locator(".result .error").inner_text()
    status, body = serving_kit.Client(server.url).json("POST", "/v1/models/mlp:predict", {"instances": [[1, 2, 3]]})
    assert status == 400 and shown == body["error"]
    _send(card, "{not json")
    assert "not valid JSON" in card.locator(".result .error").inner_text()
    # The browser's log shows the failed requests as errors of their own; nothing else.
    assert all("status of 400" in p for p in page.problems), page.problems


def test_a_new_version_appears_without_a_reload(page, server, serving_artifacts, repository):
    _open(page, server)
    serving_kit.copy_version(serving_artifacts.onnx["mlp1"], str(repository), "mlp", 5)
    try:
        page.locator('section.model[data-model="mlp"] .versions li[data-version="5"]').wait_for(timeout=WAIT_MS)
        options = page.locator('section.model[data-model="mlp"] select.version option').all_inner_texts()
        assert "version 5" in options
    finally:
        shutil.rmtree(repository / "mlp" / "5")
    page.locator('section.model[data-model="mlp"] .versions li[data-version="5"]').wait_for(
        state="detached", timeout=WAIT_MS)
    assert page.problems == []


def test_with_a_token_the_page_asks_for_it_and_sends_it(page, guarded, serving_artifacts):
    page.goto(f"{guarded.url}/")
    page.locator("#token-input").wait_for(timeout=WAIT_MS)
    assert page.locator("section.model").count() == 0
    page.locator("#token-input").fill(TOKEN)
    page.locator("#token-form button").click()
    card = page.locator('section.model[data-model="mlp"]')
    card.locator("textarea.request").wait_for(timeout=WAIT_MS)
    _send(card, json.dumps({"instances": [[1, 2, 3, 4]]}))
    got = json.loads(card.locator(".result pre.answer").inner_text())["predictions"]
    want = serving_kit.keras_outputs(serving_artifacts.models["mlp2"], np.asarray([[1, 2, 3, 4]], "float32"))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert all("status of 401" in p for p in page.problems), page.problems


def test_the_page_reads_well_on_a_phone(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    try:
        _open(page, server)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
        box = page.locator('section.model[data-model="two"]').bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    finally:
        context.close()


def test_swagger_ui_renders_the_document(page, server):
    page.goto(f"{server.url}/docs")
    page.locator(".swagger-ui .opblock").first.wait_for(timeout=WAIT_MS)
    assert page.locator(".swagger-ui .opblock-summary-path", has_text="/v1/models/two:predict").count() >= 1
    assert page.problems == []


# Without a browser ----


def test_the_page_and_its_files_are_served_open_from_the_package(guarded):
    client = serving_kit.Client(guarded.url)
    for path, kind in (("/", "text/html"), ("/page/page.js", "text/javascript"), ("/page/page.css", "text/css"),
                       ("/docs", "text/html"), ("/docs/swagger-ui-bundle.js", "text/javascript")):
        status, headers, body = client.request("GET", path)
        assert status == 200, path
        assert headers["content-type"].startswith(kind) and "charset=utf-8" in headers["content-type"]
        assert b"http://" not in body[:4096] or path.startswith("/docs/")  # no CDN in our own files
    for path in ("/page/models", "/openapi.json", "/v1/models/mlp"):
        assert client.request("GET", path)[0] == 401, path
    status, body = client.json("GET", "/page/nothing.js")
    assert status == 401  # anything not the page's own files still asks for the token
    client.close()


def test_unknown_paths_still_get_the_json_404(server):
    client = serving_kit.Client(server.url)
    status, body = client.json("GET", "/page/nothing.js")
    assert status == 404 and "Files:" in body["error"]
    status, body = client.json("GET", "/nowhere")
    assert status == 404 and "No route" in body["error"] and "/openapi.json" in body["error"]
    client.close()


def test_with_a_token_the_document_says_so_and_stays_valid(guarded):
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is not installed")
    client = serving_kit.Client(guarded.url, token=TOKEN)
    status, doc = client.json("GET", "/openapi.json")
    client.close()
    assert status == 200
    validator.validate(doc, cls=validator.OpenAPIV31SpecValidator)
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert doc["paths"]["/"]["get"]["security"] == []
    assert "401" in doc["paths"]["/v1/models/mlp:predict"]["post"]["responses"]
