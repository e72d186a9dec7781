"""A body over --max-body-mb: the 413 and its JSON reach clients that send the
whole body before reading (urllib), and the server drains within its bounds."""

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from serving_kit import requires_tensorflow_backend

pytestmark = requires_tensorflow_backend


@pytest.fixture(scope="module")
def server(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.onnx["mlp1"], port=0, poll_seconds=0, quiet=True,
                            max_body_mb=1) as server:
        yield server


@pytest.mark.parametrize("megabytes", [3, 40])
def test_urllib_reads_the_413(server, megabytes):
    body = b'{"instances": [' + b"0.5, " * (megabytes * 2**20 // 5) + b"0.5]}"
    request = urllib.request.Request(f"{server.url}/v1/models/model:predict", data=body,
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 413
    error = json.loads(caught.value.read())["error"]
    assert f"The body is {len(body)} bytes" in error and "at most 1048576 (--max-body-mb)" in error


def test_a_client_that_stops_sending_is_let_go(server):
    # Announces 50 MB, sends 1 MB, then waits: the answer comes at once, and the
    # server closes within its idle bound instead of waiting for the rest.
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=20)
    sock.sendall(b"POST /v1/models/model:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 52428800\r\n\r\n" + b"0" * 2**20)
    start = time.monotonic()
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    sock.close()
    assert received.startswith(b"HTTP/1.1 413 ")
    assert b"at most 1048576" in received
    assert time.monotonic() - start < 10


def test_the_server_still_answers(server):
    request = urllib.request.Request(f"{server.url}/v1/models/model:predict",
                                     data=b'{"instances": [[1, 2, 3, 4]]}')
    with urllib.request.urlopen(request, timeout=30) as response:
        assert len(json.loads(response.read())["predictions"][0]) == 3
