"""Serving against the servers users would pick instead, side by side in one run.

Every server runs the same ONNX files (the ladder's MLP and CNN exported by
kerasexport) on onnxruntime with one intra-op and one inter-op thread, pinned
to core 0 (`taskset -c 0`; kerasexport's and the Starlette peer's default
session sizes its pool to that one core); the load generator
(bench/peers/loadgen.py) runs in its own process pinned to core 1.

Servers: `kerasexport serve` (with its batcher, and for the MLP also without:
`--max-batch-size 1`); Triton's C++ `tritonserver` (PyTriton's wheel, a
Python-backend model, dynamic batcher); MLServer (custom runtime, adaptive
batching); KServe's ModelServer (custom Model); the hand-written Starlette
endpoint (bench/serve_peer.py); and, as a ceiling rather than a peer, grpcio's
threaded server answering a fixed reply (bench/peers/grpc_ceiling.py). Each peer lives in its own virtualenv under
bench/peers/ (bench/peers/setup.sh); a peer whose venv is missing is skipped
with the reason printed. `--quick` runs kerasexport and the Starlette peer
only, on the MLP, a few hundred requests a cell.

Transports: TF-Serving's JSON rows, KServe v2 JSON, KServe v2 binary tensors,
KServe v2 gRPC; 1 and 32 concurrent clients. Also: onnxruntime called directly
on core 0 (the floor for the 1-client p50), the CPU each server and the load
generator used, a cProfile of kerasexport's server under 32 clients, and
py-spy's samples of it and of the gRPC ceiling (bench/peers/sampling.py; full
run). Writes a Markdown section.

The full run goes through every server `--rounds` times (3), one round after
another, so drift of a shared host reaches every server: each cell shows its
median round, and each ratio is the median of the ratios taken within one
round (ours and the peer measured minutes apart, not a whole run apart), with
its range over the rounds.
"""

import argparse
import json
import os
import pstats
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers")

CLIENTS = (1, 32)
TRANSPORTS = ("tfs_json", "v2_json", "v2_binary", "grpc")
TRANSPORT_NAMES = {"tfs_json": "HTTP JSON (TF-Serving rows)", "v2_json": "HTTP JSON (KServe v2)",
                   "v2_binary": "HTTP binary tensors (KServe v2)", "grpc": "gRPC (KServe v2)"}
OURS, OURS_UNBATCHED = "kerasexport serve", "kerasexport serve, no batching"
OURS_DELAYED = "kerasexport serve, --max-delay-ms 2"
# Not a peer: grpcio's threaded server answering a fixed reply (bench/peers/grpc_ceiling.py).
CEILING = "ceiling: grpcio's threaded server, one fixed answer, no model"


def _pin(core):
    """`taskset -c core` where this process may run there; nothing (unpinned) otherwise."""
    if shutil.which("taskset") and {0, 1} <= os.sched_getaffinity(0):
        return ["taskset", "-c", str(core)]
    return []


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server pinned to core 0 in a child process; stopped by `stop()` whatever happens."""

    def __init__(self, argv, env, http_port, ready_path, log):
        self.http_port = http_port
        self.log = open(log, "w")
        self.process = subprocess.Popen([*_pin(0), *argv], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"exited with {self.process.returncode} before it was ready")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}{ready_path}", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("not ready within 180 s")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def _ours(name, onnx_path, http_port, grpc_port, work, extra=(), profile=None):
    repo = os.path.join(work, "ours-repository")
    os.makedirs(os.path.join(repo, name, "1"), exist_ok=True)
    target = os.path.join(repo, name, "1", "model.onnx")
    if not os.path.exists(target):
        os.symlink(os.path.abspath(onnx_path), target)
    prefix = [sys.executable] + ([os.path.join(PEERS, "profiled.py"), profile] if profile else ["-m"])
    return [*prefix, "kerasexport.cli", "serve", repo, "--port", str(http_port), "--grpc-port",
            str(grpc_port), "--quiet", "--poll-seconds", "0", *extra], dict(os.environ)


def _starlette(name, onnx_path, http_port, grpc_port, work):
    code = ("import sys, socket, uvicorn; sys.argv = [sys.argv[0], sys.argv[1]]; "
            f"sys.path.insert(0, {HERE!r}); import serve_peer; "
            f"uvicorn.Server(uvicorn.Config(serve_peer.app, host='127.0.0.1', port={http_port}, "
            "log_level='warning')).run()")
    return [sys.executable, "-c", code, os.path.abspath(onnx_path)], dict(os.environ)


def _data_files(work, name):
    """Where a model's request input and expected output are saved for the load generator."""
    return os.path.join(work, f"{name}-x.npy"), os.path.join(work, f"{name}-y.npy")


def _ceiling(name, onnx_path, http_port, grpc_port, work):
    return [sys.executable, os.path.join(PEERS, "grpc_ceiling.py"), os.path.abspath(onnx_path),
            _data_files(work, name)[0], str(http_port), str(grpc_port)], dict(os.environ)


def servers(quick):
    """(label, launcher module or None, command builder, ready path, transports, MLP only)."""
    import kserve_server
    import mlserver_server
    import triton_server

    rows = [(OURS, None, _ours, "/v2/models/{name}/ready", TRANSPORTS, False),
            (OURS_UNBATCHED, None, lambda *a: _ours(*a, extra=("--max-batch-size", "1")), "/v2/models/{name}/ready",
             ("v2_binary", "grpc"), True),
            (OURS_DELAYED, None, lambda *a: _ours(*a, extra=("--max-delay-ms", "2")), "/v2/models/{name}/ready",
             ("v2_binary", "grpc"), True),
            ("Starlette + onnxruntime (hand-written)", None, _starlette, None, ("tfs_json",), False)]
    if not quick:
        rows += [(CEILING, None, _ceiling, "/", ("grpc",), True),
                 ("Triton (PyTriton 0.7.0's tritonserver, Python backend)", triton_server, triton_server.command,
                  "/v2/models/{name}/ready", ("v2_json", "v2_binary", "grpc"), False),
                 ("MLServer 1.7.1", mlserver_server, mlserver_server.command, "/v2/models/{name}/ready",
                  ("v2_json", "grpc"), False),
                 ("KServe ModelServer 0.21.0", kserve_server, kserve_server.command, "/v2/models/{name}/ready",
                  ("tfs_json", "v2_json", "v2_binary", "grpc"), False)]
    return rows


def _load_argv(transport, port, name, input_name, x_file, expected_file, clients, seconds, max_requests, warmup,
               session=None):
    return [*_pin(1), sys.executable, os.path.join(PEERS, "loadgen.py"), "--transport", transport,
            "--port", str(port), "--model", name, "--input", input_name, "--x", x_file,
            "--expected", expected_file, "--clients", str(clients), "--seconds", str(seconds),
            "--max-requests", str(max_requests), "--warmup", str(warmup),
            *(["--server-session", str(session)] if session else [])]


def _load(transport, port, name, input_name, x_file, expected_file, clients, seconds, max_requests, warmup,
          session=None):
    """The load generator's result; `session`: the server's, whose CPU use it reports too."""
    argv = _load_argv(transport, port, name, input_name, x_file, expected_file, clients, seconds, max_requests,
                      warmup, session)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + warmup + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "load generator failed")
    return json.loads(out.stdout)


def _wait_tfs(port, name, x, deadline=30):
    """The Starlette peer has no health route: ready when a prediction answers."""
    body = json.dumps({"instances": x.tolist()}).encode()
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/{name}:predict", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("not answering within 30 s")


def direct(onnx_path, x, reps):
    """p50 ms of onnxruntime called directly, one thread, on core 0, batch 1."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    before = os.sched_getaffinity(0)
    if _pin(0):
        os.sched_setaffinity(0, {0})
    try:
        session = onnxruntime.InferenceSession(onnx_path, sess_options=options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x}
        for _ in range(50):
            session.run(None, feed)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            session.run(None, feed)
            times.append((time.perf_counter() - t0) * 1000)
    finally:
        os.sched_setaffinity(0, before)
    return float(np.percentile(times, 50))


def measure(models, quick, work, log, only=None, seconds=5.0, rounds=1):
    """{model: {"direct": ms, "rounds": {(server, transport, clients): {round: result or error string}},
    "cells": {(server, transport, clients): the median round's result or the first error}}}."""
    seconds, max_requests, warmup = (2.0, 300, 0.2) if quick else (seconds, 1_000_000, 0.5)
    results = {}
    for name, (onnx_path, x, expected, input_name) in models.items():
        x_file, expected_file = _data_files(work, name)
        np.save(x_file, x)
        np.save(expected_file, expected)
        results[name] = {"direct": direct(onnx_path, x, 300 if quick else 3000), "rounds": {}, "skipped": {}}
    for round_ in range(rounds):
        for name, (onnx_path, x, _, input_name) in models.items():
            if rounds > 1:
                print(f"  round {round_ + 1} of {rounds}, {name}", file=log, flush=True)
            _measure_round(name, onnx_path, x, input_name, quick, work, log, only,
                           (seconds, max_requests, warmup), results[name], round_)
    for res in results.values():
        res["cells"] = {key: _median_round(list(runs.values())) for key, runs in res["rounds"].items()}
    return results


def _median_round(runs):
    """The round with the median requests/s (the lower one of an even count), errors summed over rounds."""
    done = sorted((r for r in runs if isinstance(r, dict)), key=lambda r: r["rps"])
    if not done:
        return runs[0]
    median = dict(done[(len(done) - 1) // 2])
    median["errors"] = sum(r["errors"] for r in done)
    median["failed_rounds"] = [r for r in runs if not isinstance(r, dict)]
    return median


def _measure_round(name, onnx_path, x, input_name, quick, work, log, only, load, res, round_):
    """One pass over every server for one model, adding each cell's result to `res["rounds"]`."""
    seconds, max_requests, warmup = load
    x_file, expected_file = _data_files(work, name)
    cells = res["rounds"]
    for label, module, build, ready, transports, mlp_only in servers(quick):
        if (mlp_only and name != "mlp") or (only and not any(o.lower() in label.lower() for o in only)):
            continue
        reason = module.missing() if module else None
        if reason:
            print(f"  skipping {label}: {reason}", file=log, flush=True)
            res["skipped"][label] = reason
            continue
        http_port, grpc_port = _free_port(), _free_port()
        print(f"  {name}: {label}", file=log, flush=True)
        server = None
        try:
            argv, env = build(name, onnx_path, http_port, grpc_port, work)
            log_file = os.path.join(work, f"{name}-{len(cells)}.log")
            if ready:
                server = Server(argv, env, http_port, ready.format(name=name), log_file)
            else:  # no health route: ready when a prediction answers
                server = _NoHealthServer(argv, env, http_port, name, x)
            for transport in transports:
                for clients in CLIENTS:
                    if mlp_only and clients == 1:
                        continue
                    port = grpc_port if transport == "grpc" else http_port
                    try:
                        r = _load(transport, port, name, input_name, x_file, expected_file, clients,
                                  seconds, max_requests, warmup, server.process.pid)
                    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                        r = f"load failed: {exc}"
                    cells.setdefault((label, transport, clients), {})[round_] = r
                    print(f"    {transport} x{clients}: {_brief(r)}", file=log, flush=True)
        except RuntimeError as exc:
            print(f"    did not start: {exc}", file=log, flush=True)
            res["skipped"][label] = f"did not start (round {round_ + 1}): {exc}"
        finally:
            if server is not None:
                server.stop()


class _NoHealthServer(Server):
    def __init__(self, argv, env, http_port, name, x):
        self.http_port = http_port
        self.log = open(os.devnull, "w")
        self.process = subprocess.Popen([*_pin(0), *argv], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_tfs(http_port, name, x)
        except RuntimeError:
            self.stop()
            raise


def _brief(r):
    if isinstance(r, str):
        return r
    return (f"{r['rps']:.0f} req/s, p50 {r['p50'] or float('nan'):.2f} ms, p99 {r['p99'] or float('nan'):.2f} ms, "
            f"{r['errors']} errors, client CPU {r['client_cpu']:.2f}"
            + (f", server CPU {r['server_cpu']:.2f}" if r.get("server_cpu") is not None else ""))


def profile(name, onnx_path, x, input_name, work, seconds=5.0):
    """Top functions by own time in kerasexport's server under 32 clients, per transport."""
    x_file, expected_file = _data_files(work, name)
    out = {}
    for transport in ("v2_binary", "grpc"):
        stats_file = os.path.join(work, f"profile-{transport}.prof")
        http_port, grpc_port = _free_port(), _free_port()
        argv, env = _ours(name, onnx_path, http_port, grpc_port, work, profile=stats_file)
        server = Server(argv, env, http_port, f"/v2/models/{name}/ready",
                        os.path.join(work, f"profile-{transport}.log"))
        try:
            load = subprocess.Popen(_load_argv(transport, grpc_port if transport == "grpc" else http_port, name,
                                               input_name, x_file, expected_file, 32, seconds, 1_000_000, 0.5),
                                    stdout=subprocess.PIPE, text=True)
            time.sleep(0.7)  # the load generator's start and warm-up
            os.kill(server.process.pid, signal.SIGUSR1)
            stdout, _ = load.communicate(timeout=seconds + 120)
            os.kill(server.process.pid, signal.SIGUSR2)
            deadline = time.monotonic() + 30
            while not os.path.exists(stats_file) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(0.5)  # the file is complete once dump_stats returns
            r = json.loads(stdout)
        finally:
            server.stop()
        if not os.path.exists(stats_file):
            continue
        stats = pstats.Stats(stats_file)
        total = stats.total_tt
        rows = []
        for (file, line, function), (_, calls, tottime, cumtime, _) in stats.stats.items():
            rows.append((tottime, calls, f"{os.path.basename(os.path.dirname(file))}/{os.path.basename(file)}:"
                                         f"{function}" if file != "~" else function))
        rows.sort(reverse=True)
        out[transport] = {"requests": r["requests"], "total": total, "top": rows[:12]}
    return out


def sample(name, onnx_path, x, input_name, work, seconds=5.0):
    """py-spy's view (bench/peers/sampling.py) of kerasexport's server and of the gRPC ceiling under
    32 clients: `{(label, transport): summary}`, or `{"skipped": reason}`."""
    import sampling

    reason = sampling.missing()
    if reason:
        return {"skipped": reason}
    x_file, expected_file = _data_files(work, name)
    out = {}
    for label, build, transport in ((OURS, _ours, "grpc"), (OURS, _ours, "v2_binary"), (CEILING, _ceiling, "grpc")):
        http_port, grpc_port = _free_port(), _free_port()
        argv, env = build(name, onnx_path, http_port, grpc_port, work)
        ready = f"/v2/models/{name}/ready" if label == OURS else "/"
        server = Server(argv, env, http_port, ready, os.path.join(work, f"sample-{len(out)}.log"))
        raw = os.path.join(work, f"sample-{len(out)}.txt")
        try:
            load = subprocess.Popen(_load_argv(transport, grpc_port if transport == "grpc" else http_port, name,
                                               input_name, x_file, expected_file, 32, seconds + 2, 1_000_000, 0.5),
                                    stdout=subprocess.PIPE, text=True)
            time.sleep(1.5)  # the load generator's start and warm-up
            failed = sampling.record(server.process.pid, seconds, raw, _pin(1))
            stdout, _ = load.communicate(timeout=seconds + 120)
        finally:
            server.stop()
        if failed:
            return {"skipped": f"py-spy failed: {failed}"}
        r = json.loads(stdout)
        out[(label, transport)] = sampling.summarize(raw, seconds, r["rps"] * seconds)
    return out


# Report ----


def _ratios(res, a, b):
    """Requests/s of cell `a` over cell `b`, one ratio per round in which both were measured."""
    runs_a, runs_b = res["rounds"].get(a, {}), res["rounds"].get(b, {})
    return [runs_a[k]["rps"] / runs_b[k]["rps"] for k in runs_a
            if isinstance(runs_a[k], dict) and isinstance(runs_b.get(k), dict) and runs_b[k]["rps"]]


def _ratio_text(ratios):
    """'1.05×', or over several rounds their median and range: '1.05× (0.93–1.21×)'."""
    median = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{median:.2f}×"
    return f"{median:.2f}× ({min(ratios):.2f}–{max(ratios):.2f}×)"


def _median_p50(res, key):
    p50s = [r["p50"] for r in res["rounds"].get(key, {}).values() if isinstance(r, dict) and r["p50"] is not None]
    return statistics.median(p50s) if p50s else None


def _fmt(r, key, digits):
    v = r.get(key)
    return "—" if v is None else f"{v:,.{digits}f}"


def section(results, prof, quick, uptime, machine_note, seconds="5 s", rounds=1, samples=None):
    lines = ["## Serving against other servers", ""]
    if quick:
        lines += ["Quick smoke run (kerasexport and the Starlette peer, a few hundred requests a cell): "
                  "too short to judge by.", ""]
    lines += [
        "bench/peers.py: the ladder's MLP and CNN exported by kerasexport to ONNX, served by each server",
        "on onnxruntime with one intra-op and one inter-op thread, the server pinned to core 0 and",
        "the load generator (bench/peers/loadgen.py: asyncio clients, one keep-alive connection or",
        "gRPC channel each, one row per request, bodies built once) pinned to core 1. Each cell: a",
        f"warm-up, then {seconds}; the first answer of every client is checked against onnxruntime's output.",
        "CPU columns: cores used over the measured window, by every process of the server (its",
        "backend stubs and workers included) and by the load generator; near 1.00, that side was",
        "the limit.",
        "Peers: Triton's C++ `tritonserver` from PyTriton 0.7.0's wheel (Python-backend model on",
        "onnxruntime, `dynamic_batching {}`, one instance), MLServer 1.7.1 (custom runtime, adaptive",
        "batching up to 32 rows and 1 ms, inference in the server process), KServe 0.21.0's",
        "ModelServer (custom `Model`; no batcher in the server), and a hand-written Starlette endpoint.",
        "kerasexport: `kerasexport serve` with its defaults (batches of up to 32, no added delay).",
        "",
    ]
    if rounds > 1:
        lines += [
            f"{rounds} rounds, one after another, each through every server and model, so a shared host's",
            "drift reaches them all: a cell shows its median round (by requests/s; errors are summed over",
            "the rounds), and a ratio is the median of the ratios taken within one round, with their range.",
            "",
        ]
    lines += [
        f"Measured with `uptime`: {uptime}. {machine_note}",
        "",
    ]
    for name, res in results.items():
        cells = res["cells"]
        floor = res["direct"]
        lines += [f"### {name.upper()}", "",
                  f"onnxruntime called directly (one thread, core 0, batch 1): p50 {floor:.3f} ms.", "",
                  "| server | transport | 1 client req/s | p50 ms | p99 ms | 32 clients req/s | p50 ms | p99 ms | "
                  "errors | server CPU at 32 | load generator CPU at 32 | kerasexport ÷ this at 32"
                  + (" (median, range) |" if rounds > 1 else " |"),
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        labels = []
        for (label, _, _) in cells:
            if label not in labels:
                labels.append(label)
        for label in labels:
            for transport in TRANSPORTS:
                one, many = cells.get((label, transport, 1)), cells.get((label, transport, 32))
                if one is None and many is None:
                    continue
                row = [label, TRANSPORT_NAMES[transport]]
                errors = 0
                failed = []
                for r in (one, many):
                    if isinstance(r, dict):
                        row += [_fmt(r, "rps", 0), _fmt(r, "p50", 2), _fmt(r, "p99", 2)]
                        errors += r["errors"]
                    else:
                        row += ["—", "—", "—"]
                        if r:
                            failed.append(r)
                    if isinstance(r, dict) and r.get("failed_rounds"):
                        failed.append(f"{len(r['failed_rounds'])} round(s) failed: {r['failed_rounds'][0]}")
                row.append(str(errors) + (f" ({'; '.join(failed)})" if failed else ""))
                row.append(_fmt(many, "server_cpu", 2) if isinstance(many, dict) else "—")
                row.append(_fmt(many, "client_cpu", 2) if isinstance(many, dict) else "—")
                ratios = _ratios(res, (OURS, transport, 32), (label, transport, 32)) if label != OURS else []
                row.append(_ratio_text(ratios) if ratios else "—")
                lines.append("| " + " | ".join(row) + " |")
        for label, reason in res["skipped"].items():
            lines.append(f"\n{label}: skipped, {reason}.")
        lines += [""] + _targets(name, res) + [""]
    if prof:
        lines += _profile_lines(prof)
    if samples:
        lines += _sample_lines(samples)
    return "\n".join(lines).rstrip() + "\n"


def _targets(name, res):
    cells, floor = res["cells"], res["direct"]
    lines = [f"Targets ({name.upper()}):", ""]
    missed = []
    for (label, transport, clients), r in cells.items():
        if label in (OURS, OURS_UNBATCHED, OURS_DELAYED, CEILING) or clients != 32 or not isinstance(r, dict):
            continue
        ours = cells.get((OURS, transport, 32))
        ratios = _ratios(res, (OURS, transport, 32), (label, transport, 32))
        if not isinstance(ours, dict) or not ratios:
            continue
        ratio = statistics.median(ratios)
        if ratio < 1:
            missed.append(f"{label} on {TRANSPORT_NAMES[transport]}: {_ratio_text(ratios)} "
                          f"({ours['rps']:,.0f} against {r['rps']:,.0f} req/s, {1 - ratio:.0%} short)")
    lines.append("- kerasexport ≥ every peer's throughput at 32 clients on every transport both speak: "
                 + ("met." if not missed else "missed for " + "; ".join(missed) + "."))
    if name == "mlp":
        for transport, limit in (("grpc", 0.5), ("v2_binary", 0.5), ("tfs_json", 1.0)):
            p50 = _median_p50(res, (OURS, transport, 1))
            if p50 is not None:
                over = p50 - floor
                verdict = "met" if over <= limit else f"missed by {over - limit:.2f} ms"
                peers_p50 = {label: _median_p50(res, (label, t, n)) for (label, t, n) in cells
                             if t == transport and n == 1 and label != OURS}
                others = [f"{label.split(' (')[0]} {p - floor:+.2f} ms" for label, p in peers_p50.items() if p]
                reference = f"; through the same client: {', '.join(others)}" if others else ""
                lines.append(f"- p50 over onnxruntime at 1 client, {TRANSPORT_NAMES[transport]}: "
                             f"{over:+.2f} ms (target ≤ {limit} ms): {verdict}{reference}.")
        ceiling = cells.get((CEILING, "grpc", 32))
        triton = next(((label, t, n) for (label, t, n), c in cells.items()
                       if label.startswith("Triton") and t == "grpc" and n == 32 and isinstance(c, dict)), None)
        reached = _ratios(res, (OURS, "grpc", 32), (CEILING, "grpc", 32))
        if isinstance(ceiling, dict) and reached:
            against = _ratios(res, (CEILING, "grpc", 32), triton) if triton else []
            beside = (f"; Triton {cells[triton]['rps']:,.0f}, so the ceiling is {_ratio_text(against)} Triton"
                      if against else "")
            lines.append(f"- gRPC's ceiling at 32 clients (grpcio's threaded server, a fixed answer, no model): "
                         f"{ceiling['rps']:,.0f} req/s{beside}; kerasexport reaches "
                         f"{_ratio_text(reached)} of it.")
        for transport in ("v2_binary", "grpc"):
            batched = _ratios(res, (OURS, transport, 32), (OURS_UNBATCHED, transport, 32))
            if batched:
                ratio = statistics.median(batched)
                verdict = "met" if ratio >= 2 else f"missed by {2 - ratio:.2f}×"
                lines.append(f"- batching against `--max-batch-size 1` at 32 clients, {TRANSPORT_NAMES[transport]}: "
                             f"{_ratio_text(batched)} (target ≥ 2×): {verdict}.")
            delayed = _ratios(res, (OURS_DELAYED, transport, 32), (OURS_UNBATCHED, transport, 32))
            if delayed:
                lines.append(f"  With `--max-delay-ms 2` (an idle endpoint waits up to 2 ms for company): "
                             f"{_ratio_text(delayed)} unbatched, p50 "
                             f"{_median_p50(res, (OURS_DELAYED, transport, 32)):.2f} ms.")
    return lines


def _profile_lines(prof):
    lines = ["### Where kerasexport's server spends its time", "",
             "cProfile of `kerasexport serve` (MLP, 32 clients, 5 s; bench/peers/profiled.py switches it on",
             "after start-up and warm-up; a separate run: the profiler slows the server, so its counts are",
             "not the table's). Own time of the top functions in the server's main thread (the event loop:",
             "HTTP or gRPC, decoding, the batcher's hand-off), per request answered; `asyncio` `run` is",
             "the loop itself and whatever C code (grpcio's core, httptools, sockets) it calls.", ""]
    for transport, p in prof.items():
        lines += [f"{TRANSPORT_NAMES[transport]}: {p['requests']:,} requests, {p['total']:.1f} s profiled.", "",
                  "| function | calls | own s | own µs per request |", "|---|---:|---:|---:|"]
        for tottime, calls, where in p["top"]:
            per = tottime / p["requests"] * 1e6 if p["requests"] else float("nan")
            lines.append(f"| `{where}` | {calls:,} | {tottime:.2f} | {per:.1f} |")
        lines.append("")
    lines += [
        "Reading it: cProfile counts wall time, and slows what it measures. Over HTTP the inference",
        "routes are answered inside uvicorn's protocol (`serving/http_protocol.py`), without ASGI: the",
        "top line, `_write`, is the one socket write of each answer (the kernel's send, which cProfile",
        "counts as its caller's), then our decoding and encoding, httptools' callbacks, the batcher.",
        "The fixes that got here, each measured on this bench: uvicorn's ASGI `send` (checking and",
        "joining each head in Python, two writes) and the messages to and from the app cost more than",
        "the rest of the path, so requests that need nothing of ASGI skip it (about 1.5× the",
        "requests/s over binary tensors); onnxruntime had sized its pool to the machine and",
        "pinned a spinning thread to core 1, outside the server's `taskset` (it took the load",
        "generator's core; sessions now keep to the CPUs the process may use); Starlette's",
        "middleware, router, `Request` and `Response` cost more than the runtime, so the five",
        "inference routes are answered before them (`serving/infer_routes.py`); NumPy",
        "builds dtype names in Python and the codecs asked for them several times a request (now",
        "remembered); the batcher summed its queue on every request; a small model's batch went to a",
        "worker thread and back (about 60 µs and two context switches on this core, against the",
        "MLP's 8 µs run), and now runs on the event loop when recent calls say it takes under",
        "0.2 ms; earlier, the collector's walks over start-up's objects (`gc.freeze()`) and",
        "prometheus_client's `labels()`. Over gRPC most of the time is inside grpcio (its C core, its",
        "Cython layer and its threads, which cProfile does not see and py-spy's samples below",
        "measure): the ceiling row, grpcio's threaded server answering a fixed reply with no model",
        "and no Python of ours, is as far as any server built on grpcio (ours, KServe's, MLServer's)",
        "can go on this core (the MLP's targets set it beside Triton). Our gRPC side ran on grpcio's",
        "asyncio server until 2026-12-04; its threaded server, with each call handed to the event",
        "loop and back, answered about 1.8× the calls/s at 32 clients on the MLP (4,100-4,300 before,",
        "7,500-8,500 after, alternating runs), and grpcio's threaded server answering a fixed reply",
        "reached about 1.1-1.5× what its asyncio server did. Calls that arrive together now reach",
        "the batcher together, as HTTP requests do; on the MLP, whose run is 8 µs, merging saves",
        "little (batching about 1.03× `--max-batch-size 1` over gRPC). grpcio's EventEngine listener",
        "and endpoints cost more per call on this core than its older posix TCP path, which",
        "`serving.grpc` selects when it imports grpcio (about 15% more calls/s, measured on the",
        "asyncio server; the ceiling script imports grpcio the same way). Tried and dropped: a wait",
        "that adapts to whether company came (+14% over gRPC at 32 clients, but 2 and 4 clients lost",
        "up to a third, and HTTP lost at every load), and lowering the priority of grpcio's threads",
        "(within noise). Closing the rest of the gap to Triton over gRPC needs a front end outside",
        "Python, which was not attempted.",
        "",
    ]
    return lines


def _sample_lines(samples):
    lines = ["py-spy's samples of the server (bench/peers/sampling.py: 300 a second, from outside, without",
             "stopping it; a separate run, MLP, 32 clients, 5 s): each thread's share of the wall clock",
             "not idle (running or waiting for the core or the GIL, so shares can sum past the one core),",
             "then where the main thread's samples were, per request answered. A sample in the event",
             "loop's `run` with no Python frame above it is C code the loop calls.", ""]
    if "skipped" in samples:
        return [f"py-spy's samples of the server (bench/peers/sampling.py): skipped: {samples['skipped']}.", ""]
    for (label, transport), p in samples.items():
        threads = ", ".join(f"{t} {share:.0%} ({per:.0f} µs a request)" for t, share, per in p["threads"][:4]
                            if share >= 0.01)
        lines += [f"{label}, {TRANSPORT_NAMES[transport]}: {p['requests']:,.0f} requests in {p['seconds']:g} s; "
                  f"threads not idle: {threads}.", "",
                  "| main thread's samples in | share | µs per request |", "|---|---:|---:|"]
        shown = p["main"][:8]
        for where, share, per in shown:
            lines.append(f"| {where} | {share:.1%} | {per:.1f} |")
        rest = p["main"][8:]
        if rest:
            lines.append(f"| {len(rest)} others | {sum(r[1] for r in rest):.1%} | {sum(r[2] for r in rest):.1f} |")
        lines.append("")
    ours, ceiling = samples.get((OURS, "grpc")), samples.get((CEILING, "grpc"))
    if ours and ceiling:
        def elsewhere(summary):
            return sum(per for name, _, per in summary["threads"] if name != "MainThread")

        loop, python = ours["loop_c"] + ours["python"], ours["python"]
        lines += [
            f"Reading it: over gRPC, a call costs kerasexport {elsewhere(ours):.0f} µs in grpcio's threads "
            f"(its worker threads and poller: its C core, parsing and serializing the messages) and "
            f"{loop:.0f} µs on the event loop ({python:.0f} µs of it Python: ours and the libraries it "
            f"calls); the ceiling, {elsewhere(ceiling):.0f} µs in grpcio's threads and nothing on a loop. "
            "Thread shares count waiting for the GIL as well as running, so they add up past the one "
            "core. Where inside grpcio the time goes, py-spy cannot say without `--native`, which "
            "slowed the server fourfold here.", ""]
    return lines


def _wait_for_quiet(limit=1.0, seconds=180):
    """Wait, at most `seconds`, for the 1-minute load average to fall below `limit`.

    What ran just before (the export above, an earlier bench) lifts it for a minute or two;
    the note under the tables then tells other work apart from that.
    """
    deadline = time.monotonic() + seconds
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", required=True)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--only", nargs="*", help="servers whose name contains one of these (trying out)")
    parser.add_argument("--models", nargs="*", default=None, help="of mlp, cnn")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds a cell")
    parser.add_argument("--rounds", type=int, default=None,
                        help="passes through every server, one after another (default 3; 1 with --quick)")
    args = parser.parse_args()
    # The ladder and the peers' launchers. Only when run: bench/peers/ also holds Triton's
    # `triton/model.py`, which on an importer's path would shadow OpenAI's `triton` for torch.
    sys.path[:0] = [PEERS, HERE]
    rounds = args.rounds or (1 if args.quick else 3)
    if rounds < 1:
        parser.error(f"--rounds must be at least 1, got {rounds}")

    import kerasexport
    import ladder

    work = tempfile.mkdtemp(prefix="kerasexport-bench-peers-")
    models = {}
    for name in args.models or (("mlp",) if args.quick else ("mlp", "cnn")):
        model, shape = ladder.build(name)
        path = os.path.join(work, f"{name}.onnx")
        kerasexport.export(model, path, format="onnx", verify=False)
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        x = np.random.default_rng(2).normal(size=(1,) + shape).astype("float32")
        models[name] = (path, x, session.run(None, {input_name: x})[0], input_name)
    if not args.quick:
        _wait_for_quiet()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    if not _pin(0):
        print("bench/peers.py: no taskset or fewer than 2 cores: servers and load generator unpinned",
              file=sys.stderr)
    try:
        results = measure(models, args.quick, work, sys.stderr, args.only, args.seconds, rounds)
        prof = samples = None
        if not args.quick and not args.no_profile and "mlp" in models:
            path, x, _, input_name = models["mlp"]
            prof = profile("mlp", path, x, input_name, work)
            samples = sample("mlp", path, x, input_name, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    # Only the load before the run says whether other work was there: the run itself keeps
    # both cores busy (server and load generator), which lifts the load average after it.
    note = (f"After the run: {after.split('load average:')[-1].strip()}. "
            + ("Measured on a shared machine (load average above 1 on 2 cores before the run): other "
               "work ran beside it." if float(uptime.split("load average:")[-1].split(",")[0]) > 1 else ""))
    if not _pin(0):
        note += " No taskset or fewer than 2 cores here: servers and load generator were not pinned."
    text = section(results, prof, args.quick, uptime, note,
                   "at most 300 requests" if args.quick else f"{args.seconds:g} s", rounds, samples)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
