"""The load generator for bench/peers.py, run in its own process (pinned to its own core).

N concurrent clients in one asyncio loop (uvloop where installed), each with
its own keep-alive connection (HTTP/1.1) or channel (gRPC), send the same
one-request body back to back for a fixed time or a fixed count, whichever
comes first, after an unmeasured warm-up. Bodies are built once, so the
client's own cost per request is writing bytes and reading the answer. The
first answer of every client is decoded and compared with the runtime's own
output; any other answer counts as an error unless its status is 200 (or OK).

Transports: `tfs_json` (TF-Serving's row format), `v2_json` (KServe v2 JSON),
`v2_binary` (KServe v2 with the binary tensor extension, as tritonclient
sends it), `grpc` (KServe v2 `inference.GRPCInferenceService/ModelInfer`,
raw tensor contents).

Prints one JSON line: requests, errors, seconds, rps, p50, p99 (ms), the
client's CPU use over the measured window (near 1.0: the client was the limit)
and, given `--server-session`, the server's: every process of that session
(Triton's backend stubs, MLServer's workers), over the same window (near 1.0
on its one core: the server was the limit).
"""

import argparse
import asyncio
import json
import os
import resource
import time

import numpy as np

HEADER_LENGTH = "inference-header-content-length"


def _bodies(transport, model, input_name, x):
    """(path, content type, extra headers, body) of the one request every client sends."""
    if transport == "tfs_json":
        return (f"/v1/models/{model}:predict", "application/json", "",
                json.dumps({"instances": x.tolist()}).encode())
    if transport == "v2_json":
        return (f"/v2/models/{model}/infer", "application/json", "",
                json.dumps({"inputs": [{"name": input_name, "shape": list(x.shape), "datatype": "FP32",
                                        "data": x.ravel().tolist()}]}).encode())
    if transport == "v2_binary":
        header = json.dumps({"inputs": [{"name": input_name, "shape": list(x.shape), "datatype": "FP32",
                                         "parameters": {"binary_data_size": x.nbytes}}],
                             "outputs": [], "parameters": {"binary_data_output": True}}).encode()
        return (f"/v2/models/{model}/infer", "application/octet-stream",
                f"Inference-Header-Content-Length: {len(header)}\r\n", header + x.tobytes())
    raise ValueError(transport)


def _decode_http(transport, headers, body):
    """The first output of an HTTP answer, as a float32 array."""
    if transport == "tfs_json":
        return np.asarray(json.loads(body)["predictions"], dtype=np.float32)
    if HEADER_LENGTH in headers:
        n = int(headers[HEADER_LENGTH])
        header, rest = json.loads(body[:n]), body[n:]
        out = header["outputs"][0]
        size = out.get("parameters", {}).get("binary_data_size")
        if size is not None:
            return np.frombuffer(rest[:size], dtype=np.float32).reshape(out["shape"])
        return np.asarray(out["data"], dtype=np.float32).reshape(out["shape"])
    out = json.loads(body)["outputs"][0]
    return np.asarray(out["data"], dtype=np.float32).reshape(out["shape"])


async def _read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    else:
        body = b""
    return status, headers, body


def session_cpu(session):
    """CPU seconds (user and system) of every live process in `session`, from /proc; None without it."""
    total, found = 0, False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                # After the command's name (in parentheses, which may hold spaces): state,
                # ppid, pgrp, session, ..., utime and stime (fields 14 and 15 of proc(5)).
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[3]) == session:
            found = True
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK") if found else None


class Run:
    def __init__(self, clients, seconds, max_requests, warmup):
        self.latencies, self.errors, self.wrong, self.sent = [], 0, 0, 0
        self.max_requests = max_requests
        now = time.perf_counter()
        self.measure_at = now + warmup
        self.stop_at = self.measure_at + seconds

    def more(self):
        return time.perf_counter() < self.stop_at and self.sent < self.max_requests

    def record(self, t0, ok):
        t1 = time.perf_counter()
        if t0 >= self.measure_at:
            self.sent += 1
            if ok:
                self.latencies.append((t1 - t0) * 1000)
            else:
                self.errors += 1


async def http_client(run, host, port, transport, request, expected):
    path, ctype, extra, body = request
    wire = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body
    reader, writer = await asyncio.open_connection(host, port)
    checked = False
    while run.more():
        t0 = time.perf_counter()
        try:
            writer.write(wire)
            status, headers, answer = await _read_response(reader)
            ok = status == 200
            if ok and not checked:
                checked = True
                if not np.allclose(_decode_http(transport, headers, answer), expected, atol=1e-4):
                    run.wrong += 1
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            ok = False
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
        run.record(t0, ok)
    writer.close()


async def grpc_client(run, host, port, model, input_name, x, expected):
    import grpc
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name=model)
    tensor = request.inputs.add()
    tensor.name, tensor.datatype = input_name, "FP32"
    tensor.shape.extend(x.shape)
    request.raw_input_contents.append(x.tobytes())
    wire = request.SerializeToString()
    async with grpc.aio.insecure_channel(f"{host}:{port}") as channel:
        infer = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        checked = False
        while run.more():
            t0 = time.perf_counter()
            try:
                answer = await infer(wire, timeout=60)
                ok = True
                if not checked:
                    checked = True
                    response = service_pb2.ModelInferResponse.FromString(answer)
                    out = np.frombuffer(response.raw_output_contents[0], dtype=np.float32)
                    if not np.allclose(out.reshape(expected.shape), expected, atol=1e-4):
                        run.wrong += 1
            except grpc.aio.AioRpcError:
                ok = False
            run.record(t0, ok)


async def main_async(args):
    x = np.load(args.x)
    expected = np.load(args.expected)
    run = Run(args.clients, args.seconds, args.max_requests, args.warmup)
    if args.transport == "grpc":
        clients = [grpc_client(run, args.host, args.port, args.model, args.input, x, expected)
                   for _ in range(args.clients)]
    else:
        request = _bodies(args.transport, args.model, args.input, x)
        clients = [http_client(run, args.host, args.port, args.transport, request, expected)
                   for _ in range(args.clients)]
    cpu0 = None
    server = {}

    async def mark():
        nonlocal cpu0
        await asyncio.sleep(max(0.0, run.measure_at - time.perf_counter()))
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        if args.server_session:
            server["start"] = (time.perf_counter(), session_cpu(args.server_session))

    await asyncio.gather(mark(), *clients)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    if "start" in server:
        server["stop"] = (time.perf_counter(), session_cpu(args.server_session))
    wall = min(time.perf_counter(), run.stop_at) - run.measure_at
    cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) if cpu0 else float("nan")
    server_cpu = None
    if "stop" in server and None not in (server["start"][1], server["stop"][1]):
        (t0, c0), (t1, c1) = server["start"], server["stop"]
        server_cpu = (c1 - c0) / (t1 - t0) if t1 > t0 else None
    latencies = sorted(run.latencies)

    def q(p):
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))] if latencies else None

    return {"requests": len(latencies), "errors": run.errors + run.wrong, "wrong": run.wrong,
            "seconds": wall, "rps": len(latencies) / wall if wall > 0 else 0.0,
            "p50": q(50), "p99": q(99), "client_cpu": cpu / wall if wall > 0 else float("nan"), "server_cpu": server_cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", required=True, choices=["tfs_json", "v2_json", "v2_binary", "grpc"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True, help="the model's input name")
    parser.add_argument("--x", required=True, help=".npy: the one request's rows")
    parser.add_argument("--expected", required=True, help=".npy: the runtime's output for them")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--server-session", type=int, default=None,
                        help="the server's session id (its leader's pid): report its CPU use too")
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
