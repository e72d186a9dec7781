"""The inference routes answered in uvicorn's protocol, without ASGI (serving/http_protocol.py).

Spoken to over raw sockets, so that what HTTP/1.1 asks of a connection is
seen as a client sees it: keep-alive, pipelining (in order, mixed with
requests the ASGI app answers), HTTP/1.0, ``Connection: close``,
``Expect: 100-continue``, a client that leaves mid-body, answers larger
than one write, and the metrics and access log of requests answered there.
"""

import http.client
import logging
import re
import socket
import threading
import time

import numpy as np
import orjson
import pytest

from serving_kit import Client, keras_outputs, requires_tensorflow_backend, wait_for

pytestmark = requires_tensorflow_backend


@pytest.fixture(scope="module")
def server(serving_artifacts):
    import kerasexport

    with kerasexport.Server(serving_artifacts.root, port=0, poll_seconds=0) as server:
        yield server


def _address(server):
    host, port = server.url.split("//")[1].rsplit(":", 1)
    return host, int(port)


def _infer_request(x, version=1, extra=b"", http_version=b"1.1"):
    body = orjson.dumps({"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32",
                                     "data": x.ravel().tolist()}]})
    return (b"POST /v2/models/mlp/versions/%d/infer HTTP/%s\r\nHost: test\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n" % (
                version, http_version, len(body), extra)) + body


class _Reader:
    """Reads HTTP/1.1 responses off a socket, with a deadline."""

    def __init__(self, sock, seconds=30):
        self.sock = sock
        self.sock.settimeout(seconds)
        self.buffer = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.buffer += chunk

    def response(self):
        """(status, headers as a dict of lower-case names, body)."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, headers, body

    def closed(self):
        """Whether the server closes the connection (EOF) with nothing more to read."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def _outputs(body):
    (output,) = orjson.loads(body)["outputs"]
    return np.asarray(output["data"], dtype="float32").reshape(output["shape"])


def _rows(seed, n=2):
    return np.random.default_rng(seed).normal(size=(n, 4)).astype("float32")


def test_keep_alive_answers_each_request_with_its_length_type_and_date(server, serving_artifacts):
    with socket.create_connection(_address(server)) as sock:
        reader = _Reader(sock)
        for seed in range(5):
            x = _rows(seed)
            sock.sendall(_infer_request(x))
            status, headers, body = reader.response()
            assert status == 200
            assert headers["content-type"] == "application/json"
            assert int(headers["content-length"]) == len(body)
            assert "date" in headers and "connection" not in headers
            np.testing.assert_allclose(_outputs(body), keras_outputs(serving_artifacts.models["mlp1"], x),
                                       rtol=1e-5, atol=1e-6)


def test_pipelined_requests_are_answered_in_order_beside_the_app_s_routes(server, serving_artifacts):
    xs = [_rows(10 + i, n=i + 1) for i in range(3)]
    ready = b"GET /v2/health/ready HTTP/1.1\r\nHost: test\r\n\r\n"
    with socket.create_connection(_address(server)) as sock:
        sock.sendall(_infer_request(xs[0]) + ready + _infer_request(xs[1], version=2) + _infer_request(xs[2]))
        reader = _Reader(sock)
        answers = [reader.response() for _ in range(4)]
    assert [status for status, _, _ in answers] == [200, 200, 200, 200]
    assert answers[1][2] == b""  # the health route, answered by the app, in its place
    np.testing.assert_allclose(_outputs(answers[0][2]), keras_outputs(serving_artifacts.models["mlp1"], xs[0]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_outputs(answers[2][2]), keras_outputs(serving_artifacts.models["mlp2"], xs[1]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_outputs(answers[3][2]), keras_outputs(serving_artifacts.models["mlp1"], xs[2]),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("how", ["HTTP/1.0", "Connection: close"])
def test_a_client_that_does_not_keep_alive_is_answered_then_closed(server, how):
    x = _rows(20)
    request = (_infer_request(x, http_version=b"1.0") if how == "HTTP/1.0"
               else _infer_request(x, extra=b"Connection: close\r\n"))
    with socket.create_connection(_address(server)) as sock:
        sock.sendall(request)
        reader = _Reader(sock)
        status, headers, body = reader.response()
        assert status == 200 and len(body) == int(headers["content-length"])
        assert headers["connection"] == "close"
        assert reader.closed()


def test_expect_100_continue_is_told_to_go_on_before_the_body(server, serving_artifacts):
    x = _rows(30)
    request = _infer_request(x, extra=b"Expect: 100-continue\r\n")
    head, body = request.split(b"\r\n\r\n", 1)
    with socket.create_connection(_address(server)) as sock:
        sock.sendall(head + b"\r\n\r\n")
        reader = _Reader(sock)
        status, _, _ = reader.response()
        assert status == 100
        sock.sendall(body)
        status, _, answer = reader.response()
    assert status == 200
    np.testing.assert_allclose(_outputs(answer), keras_outputs(serving_artifacts.models["mlp1"], x),
                               rtol=1e-5, atol=1e-6)


def test_a_client_that_leaves_mid_body_costs_the_server_nothing(server):
    request = _infer_request(_rows(40))
    for _ in range(3):
        with socket.create_connection(_address(server)) as sock:
            sock.sendall(request[:len(request) - 10])
    client = Client(server.url)
    try:
        status, answer = client.json("POST", "/v2/models/mlp/infer", orjson.loads(request.split(b"\r\n\r\n")[1]))
    finally:
        client.close()
    assert status == 200 and answer["model_version"] == "2"


def test_an_answer_larger_than_one_write_arrives_whole(server, serving_artifacts):
    x = _rows(50, n=4000)  # about 150 kB of JSON
    body = orjson.dumps({"instances": x.tolist()})
    connection = http.client.HTTPConnection(*_address(server), timeout=60)
    try:
        connection.request("POST", "/v1/models/mlp/versions/1:predict", body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    assert response.status == 200 and len(data) > 64 * 1024
    assert len(data) == int(response.getheader("content-length"))
    np.testing.assert_allclose(np.asarray(orjson.loads(data)["predictions"]),
                               keras_outputs(serving_artifacts.models["mlp1"], x), rtol=1e-5, atol=1e-6)


def _count(server, code):
    client = Client(server.url)
    try:
        _, _, text = client.request("GET", "/metrics")
    finally:
        client.close()
    pattern = (r'kerasexport_requests_total\{code="%d",model="mlp",protocol="kserve",version="1"\} ([0-9.e+]+)'
               % code)
    found = re.search(pattern, text.decode())
    return float(found.group(1)) if found else 0.0


def test_requests_answered_here_are_counted_and_logged(server, caplog):
    caplog.set_level(logging.INFO, logger="kerasexport.serve")
    before_ok, before_bad = _count(server, 200), _count(server, 400)
    with socket.create_connection(_address(server)) as sock:
        reader = _Reader(sock)
        sock.sendall(_infer_request(_rows(60)))
        assert reader.response()[0] == 200
        bad = b'{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}'
        sock.sendall(b"POST /v2/models/mlp/versions/1/infer HTTP/1.1\r\nHost: test\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(bad), bad))
        status, headers, body = reader.response()
    assert status == 400 and headers["content-type"] == "application/json"
    assert "error" in orjson.loads(body)
    wait_for(lambda: _count(server, 200) == before_ok + 1 and _count(server, 400) == before_bad + 1,
             seconds=10)
    wait_for(lambda: sum(re.fullmatch(r"POST /v2/models/mlp/versions/1/infer (200|400) [0-9.]+ms",
                                      r.getMessage()) is not None for r in caplog.records) >= 2, seconds=10)


def test_a_stop_lets_an_answer_in_flight_finish(serving_artifacts):
    import kerasexport

    server = kerasexport.Server(serving_artifacts.root, port=0, poll_seconds=0, quiet=True)
    server.start()
    try:
        request = _infer_request(_rows(70))
        with socket.create_connection(_address(server)) as sock:
            sock.sendall(request[:-5])  # the request is in flight until its last bytes arrive
            time.sleep(0.2)
            stopping = threading.Thread(target=server.stop)
            stopping.start()
            time.sleep(0.2)
            sock.sendall(request[-5:])
            status, headers, _ = _Reader(sock).response()
            assert status == 200 and headers["connection"] == "close"
            stopping.join(30)
            assert not stopping.is_alive()
    finally:
        server.stop()
