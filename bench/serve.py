"""Serving: per-request overhead, throughput under 32 clients, and memory.

All on the ladder's CNN (the MLP with --quick), measured side by side in one run:

1. Overhead: one client, batch 1, the runtime called directly in this process
   against the same artifact served by `kerasexport serve` (a child process),
   through TF-Serving's JSON row format and KServe v2 with binary tensors;
   requests interleaved in blocks so both see the same machine load.
2. Throughput: 32 client threads (in a separate process, keep-alive
   connections) sending single rows for a fixed time, against our server with
   batching, without (`--max-batch-size 1`), and against the peer: a minimal
   hand-written Starlette + onnxruntime endpoint (bench/serve_peer.py). The full
   run also tries other batching settings, which is how the defaults were chosen.
3. Memory: resident MB of the server with the ladder loaded (ONNX), against
   the artifacts' size, and against the server holding the MLP alone.

Writes a Markdown section (bench/report.py appends it to RESULTS.md).
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CLIENTS = 32


# Load generator (run in its own process) ----


def load(url, path, body_file, threads, seconds):
    """Send the same body from `threads` keep-alive clients for `seconds`."""
    host, port = url.removeprefix("http://").split(":")
    with open(body_file, "rb") as f:
        body = f.read()
    headers = {"Content-Type": "application/json"}
    latencies, errors = [], [0]
    lock = threading.Lock()
    start_at = time.perf_counter() + 0.2
    stop_at = start_at + seconds

    def client():
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        mine = []
        while time.perf_counter() < start_at:
            time.sleep(0.005)
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
                ok = False
            if ok:
                mine.append((time.perf_counter() - t0) * 1000)
            else:
                with lock:
                    errors[0] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    latencies.sort()
    print(json.dumps({
        "requests": len(latencies), "errors": errors[0], "seconds": seconds,
        "rps": len(latencies) / seconds, "p50": _percentile(latencies, 50),
        "p99": _percentile(latencies, 99),
    }))


def _percentile(values, q):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


# Servers ----


class Child:
    """A server in a child process; `url` once it listens."""

    def __init__(self, args, ready_prefix):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True, env=env)
        deadline = time.monotonic() + 300
        self.url = None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if line.startswith(ready_prefix):
                value = line.split()[-1]
                self.url = value if value.startswith("http") else f"http://127.0.0.1:{value}"
                break
        if self.url is None:
            self.stop()
            raise RuntimeError(f"server did not start: {args}")
        _wait_live(self.url)

    def rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()


def _wait_live(url):
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=2)
            c.request("GET", "/v1/models/none")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.1)


def ours(path, *options):
    return Child([sys.executable, "-m", "kerasexport.cli", "serve", path, "--port", "0", "--grpc-port", "0", "--quiet",
                  "--poll-seconds", "0", *options], "Serving on")


def peer(path):
    return Child([sys.executable, os.path.join(HERE, "serve_peer.py"), path], "port")


# Measurements ----


def overhead(model_name, repo, shape, reps):
    """p50/p99 ms of the runtime called directly and of served requests, batch 1."""
    import kerasexport
    from kerasexport.codec import kserve

    x = np.random.default_rng(0).normal(size=(1,) + shape).astype("float32")
    rows = {}
    formats = [("onnx", model_name)]
    if os.path.isdir(os.path.join(repo, f"{model_name}_sm")):
        formats.append(("tf_saved_model", f"{model_name}_sm"))
    for format, model_dir in formats:
        artifact = kerasexport.load(_version_path(repo, model_dir))
        endpoint = artifact.endpoint()
        direct = artifact._callers[endpoint.name]
        server = ours(os.path.join(repo))
        host, port = server.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        tfs_body = json.dumps({"instances": x.tolist()}).encode()
        header = json.dumps({"inputs": [{"name": endpoint.inputs[0].name, "shape": list(x.shape),
                                         "datatype": "FP32", "parameters": {"binary_data_size": x.nbytes}}],
                             "parameters": {"binary_data_output": True}}).encode()
        v2_body = header + x.tobytes()
        v2_headers = {kserve.HEADER_LENGTH: str(len(header)), "Content-Type": "application/octet-stream"}

        def post(path, body, headers):
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status

        fns = {
            "direct": lambda: direct([x]),
            "tfserving_json": lambda: post(f"/v1/models/{model_dir}:predict", tfs_body,
                                           {"Content-Type": "application/json"}),
        }
        if format == "onnx":
            fns["kserve_binary"] = lambda: post(f"/v2/models/{model_dir}/infer", v2_body, v2_headers)
        times = _blocks(fns, reps)
        connection.close()
        server.stop()
        rows[format] = {name: (_percentile(t, 50), _percentile(t, 99)) for name, t in times.items()}
    return rows


def _blocks(fns, reps, block=10):
    times = {name: [] for name in fns}
    for fn in fns.values():  # warm up
        for _ in range(5):
            fn()
    while min(len(t) for t in times.values()) < reps:
        for name, fn in fns.items():
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t0) * 1000)
    return times


def throughput(onnx_path, model_name, shape, seconds, sweep):
    """Requests/s, p50 and p99 for each server configuration under 32 clients."""
    x = np.random.default_rng(1).normal(size=(1,) + shape).astype("float32")
    body_file = tempfile.NamedTemporaryFile(suffix=".json", delete=False)
    body_file.write(json.dumps({"instances": x.tolist()}).encode())
    body_file.close()
    configs = [("ours, batching (defaults)", lambda: ours(onnx_path)),
               ("ours, no batching (--max-batch-size 1)", lambda: ours(onnx_path, "--max-batch-size", "1")),
               ("peer: hand-written Starlette + onnxruntime", lambda: peer(onnx_path))]
    if sweep:
        configs += [
            ("ours, --max-batch-size 8", lambda: ours(onnx_path, "--max-batch-size", "8")),
            ("ours, --max-batch-size 64", lambda: ours(onnx_path, "--max-batch-size", "64")),
            ("ours, --max-delay-ms 2", lambda: ours(onnx_path, "--max-delay-ms", "2")),
        ]
    results = []
    for name, start in configs:
        server = start()
        path = "/v1/models/model:predict"
        out = subprocess.run([sys.executable, __file__, "--load", server.url, path, body_file.name,
                              str(CLIENTS), str(seconds)], capture_output=True, text=True, check=True)
        server.stop()
        results.append((name, json.loads(out.stdout)))
    os.unlink(body_file.name)
    return results


def memory(repo_ladder, repo_small):
    """RSS of a server holding the ladder, of one holding the MLP alone; the ladder's size."""
    size = 0
    for root, _, files in os.walk(repo_ladder):
        size += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    small = ours(repo_small)
    small_rss = small.rss_mb()
    small.stop()
    full = ours(repo_ladder)
    full_rss = full.rss_mb()
    full.stop()
    return {"size_mb": size / 1e6, "rss_mb": full_rss, "baseline_mb": small_rss}


def _version_path(repo, model_dir):
    version = os.path.join(repo, model_dir, "1")
    onnx = os.path.join(version, "model.onnx")
    return onnx if os.path.exists(onnx) else version


# Report ----


def section(model_name, over, thru, mem, quick):
    lines = ["## Serving", ""]
    if quick:
        lines += ["Quick smoke run: too short to judge by.", ""]
    lines += [
        f"`kerasexport serve` on the ladder's {model_name.upper()} (bench/serve.py), its server in a",
        "child process, clients in another process (keep-alive `http.client` connections).",
        "",
        "### Per-request overhead, one client, batch 1",
        "",
        "Milliseconds per request: the runtime called directly in one process (the artifact's own",
        "onnxruntime session or SavedModel signature), and the same artifact served, through",
        "TF-Serving's JSON row format and KServe v2 with binary tensors (what `tritonclient`",
        "sends by default). Interleaved in blocks of 10. Target: p50 within 1 ms of the runtime.",
        "",
        "| format | path | p50 ms | p99 ms | p50 overhead ms |",
        "|---|---|---:|---:|---:|",
    ]
    for format, rows in over.items():
        base = rows["direct"][0]
        for name, (p50, p99) in rows.items():
            extra = "—" if name == "direct" else f"{p50 - base:+.2f}"
            lines.append(f"| {format} | {name} | {p50:.2f} | {p99:.2f} | {extra} |")
    base_rps = {name: r["rps"] for name, r in thru}
    batched = base_rps.get("ours, batching (defaults)")
    unbatched = base_rps.get("ours, no batching (--max-batch-size 1)")
    peer_rps = base_rps.get("peer: hand-written Starlette + onnxruntime")
    lines += [
        "",
        f"### Throughput, {CLIENTS} concurrent clients sending single rows (ONNX)",
        "",
        "Targets: batching ≥ 3× unbatched; ours ≥ 2× the hand-written peer; p99 ≤ 3× p50.",
        "",
        "| server | requests/s | p50 ms | p99 ms | p99/p50 | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in thru:
        ratio = r["p99"] / r["p50"] if r["p50"] else float("nan")
        lines.append(f"| {name} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | {ratio:.2f} | {r['errors']} |")
    if batched and unbatched and peer_rps:
        lines += ["", f"Batching against no batching: {batched / unbatched:.2f}×; ours (batching) against "
                      f"the peer: {batched / peer_rps:.2f}×."]
    if mem is None:
        return "\n".join(lines + [""])
    lines += [
        "",
        "### Memory",
        "",
        "Resident MB of a server holding the ladder's ONNX artifacts, of one holding the MLP",
        "alone (the process: Python, onnxruntime, the server), and the artifacts' size on disk.",
        "",
        "| server RSS MB | MLP-only server RSS MB | difference MB | artifacts MB |",
        "|---:|---:|---:|---:|",
        f"| {mem['rss_mb']:.0f} | {mem['baseline_mb']:.0f} | {mem['rss_mb'] - mem['baseline_mb']:.0f} | "
        f"{mem['size_mb']:.1f} |",
        "",
    ]
    return "\n".join(lines)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        url, path, body_file, threads, seconds = sys.argv[2:7]
        load(url, path, body_file, int(threads), float(seconds))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", required=True)
    parser.add_argument("--no-memory", action="store_true", help="skip the ladder (quicker)")
    parser.add_argument("--no-sweep", action="store_true", help="skip the other batching settings")
    args = parser.parse_args()

    import kerasexport
    import ladder

    model_name = "mlp" if args.quick else "cnn"
    names = (model_name,) if args.quick or args.no_memory else ladder.LADDER
    work = tempfile.mkdtemp(prefix="kerasexport-bench-serve-")
    repo = os.path.join(work, "repo")
    repo_ladder = os.path.join(work, "ladder")
    repo_small = os.path.join(work, "small")
    shape = None
    for name in names:
        model, model_shape = ladder.build(name)
        kerasexport.export(model, os.path.join(repo_ladder, name, "1", "model.onnx"), format="onnx", verify=False)
        if name == model_name:
            shape = model_shape
            kerasexport.export(model, os.path.join(repo, name, "1", "model.onnx"), format="onnx", verify=False)
            if not args.quick:  # a SavedModel server imports TensorFlow: too slow for a smoke run
                kerasexport.export(model, os.path.join(repo, f"{name}_sm", "1"), format="tf_saved_model",
                                   verify=False)
        if name == "mlp" and not args.quick:
            kerasexport.export(model, os.path.join(repo_small, name, "1", "model.onnx"), format="onnx", verify=False)
    over = overhead(model_name, repo, shape, reps=20 if args.quick else 300)
    thru = throughput(os.path.join(repo, model_name, "1", "model.onnx"), model_name, shape,
                      seconds=1 if args.quick else 10, sweep=not (args.quick or args.no_sweep))
    mem = None if args.quick or args.no_memory else memory(repo_ladder, repo_small)
    text = section(model_name, over, thru, mem, args.quick)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
