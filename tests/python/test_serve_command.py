"""`kerasexport serve` as a user runs it: the console script in a child process,
its start-up lines, and a graceful stop on SIGTERM with a request in flight."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import serving_kit
from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend


def command():
    script = os.path.join(os.path.dirname(sys.executable), "kerasexport")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "kerasexport.cli"]


def start(path, *options):
    process = subprocess.Popen([*command(), "serve", path, "--port", "0", "--grpc-port", "0", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("  ") and lines[0].startswith("Serving on"):
            break
    if not lines or not lines[0].startswith("Serving on"):
        process.kill()
        raise AssertionError(f"no start-up line: {lines} {process.stderr.read()}")
    return process, lines


@pytest.fixture
def served(serving_artifacts):
    process, lines = start(serving_artifacts.onnx["mlp1"])
    yield process, lines
    if process.poll() is None:
        process.kill()
    process.wait(10)
    process.stdout.close()
    process.stderr.close()


def test_start_prints_the_url_and_the_models(served):
    _, lines = served
    assert lines[0].startswith("Serving on http://127.0.0.1:")
    url = lines[0].removeprefix("Serving on ")
    assert lines[1] == f"Page: {url}/ (API: {url}/docs)"
    assert lines[2] == "  model: version 1"
    with urllib.request.urlopen(f"{url}/", timeout=10) as page:
        assert page.status == 200 and b"<title>kerasexport serve</title>" in page.read()


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(served):
    process, lines = served
    url = lines[0].split()[-1]
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"instances": [[1.0, 2.0, 3.0, 4.0]]}).encode()
    # Headers and half the body, then SIGTERM, then the rest: the request is in flight.
    sock = socket.create_connection((host, int(port)), timeout=20)
    sock.sendall(b"POST /v1/models/model:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    sock.sendall(body[10:])
    response = b""
    while b"predictions" not in response or not response.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        response += chunk
    sock.close()
    assert response.startswith(b"HTTP/1.1 200")
    assert process.wait(30) == 0
    log = process.stderr.read()
    assert "POST /v1/models/model:predict 200" in log
    assert "Traceback" not in log


def test_quiet_has_no_access_log_and_a_bad_path_is_one_line(serving_artifacts, tmp_path):
    process, lines = start(serving_artifacts.onnx["mlp1"], "--quiet")
    client = serving_kit.Client(lines[0].split()[-1])
    assert client.request("GET", "/v1/models/model")[0] == 200
    client.close()
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    assert "GET /v1/models/model" not in process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"nope")
    result = subprocess.run([*command(), "serve", str(broken), "--port", "0"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("error: Cannot serve 'broken.onnx':")
    assert len(result.stderr.strip().splitlines()) == 1 and str(tmp_path) not in result.stderr


def test_import_stays_cheap_and_serve_stays_the_function():
    code = ("import sys, kerasexport; assert 'starlette' not in sys.modules and 'uvicorn' not in sys.modules; "
            "import kerasexport.serving.app; assert callable(kerasexport.serve); "
            "assert kerasexport.Server.__name__ == 'Server'; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
    help_text = subprocess.run([*command(), "--help"], capture_output=True, text=True, timeout=60).stdout
    assert re.search(r"^  serve +Serve an artifact or a model repository over HTTP", help_text, re.M)


def test_an_unread_log_pipe_stalls_neither_requests_nor_the_exit(serving_artifacts):
    # The access log fills a 64 kB pipe in about 900 lines; nobody reads it here.
    process, lines = start(serving_artifacts.onnx["mlp1"])
    client = serving_kit.Client(lines[0].split()[-1], timeout=10)
    body = json.dumps({"instances": [[1.0, 2.0, 3.0, 4.0]]}).encode()
    statuses = [client.request("POST", "/v1/models/model:predict", body)[0] for _ in range(1500)]
    client.close()
    process.terminate()
    assert process.wait(30) == 0
    assert statuses == [200] * 1500
    process.stdout.close()
    process.stderr.close()
