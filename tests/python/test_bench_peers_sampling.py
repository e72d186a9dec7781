"""bench/peers' CPU columns and py-spy summary: the load generator's reading of a server's
session, sampling.py's shares of py-spy's raw stacks, and how the report prints both.

Pure code on this process and on hand-made stacks; py-spy itself runs in `make bench`.
"""

import importlib.util
import os
import subprocess
import sys
import time

import pytest

_PEERS = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sampling():
    return _load("bench_peers_sampling", os.path.join(_PEERS, "sampling.py"))


@pytest.fixture(scope="module")
def loadgen():
    return _load("bench_peers_loadgen", os.path.join(_PEERS, "loadgen.py"))


@pytest.fixture(scope="module")
def peers():
    before = list(sys.path)
    module = _load("bench_peers_for_sampling", os.path.join(_PEERS, "..", "peers.py"))
    assert sys.path == before
    return module


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="no /proc here: the CPU columns read it")
def test_the_load_generator_reads_every_process_of_a_session(loadgen):
    # A child in a session of its own, spinning for 0.6 s of CPU. /proc counts in clock ticks,
    # which the kernel splits from the precise runtime with rounding: read it to 0.1 s.
    child = subprocess.Popen([sys.executable, "-c", "import time\nend = time.process_time() + 0.6\n"
                              "while time.process_time() < end: pass\ntime.sleep(30)"],
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        used = 0.0
        while time.monotonic() < deadline:
            used = loadgen.session_cpu(child.pid) or 0.0
            if used >= 0.5:
                break
            time.sleep(0.05)
        assert 0.5 <= used < 5
        assert loadgen.session_cpu(os.getsid(0)) != used  # another session, counted apart
    finally:
        child.kill()
        child.wait()
    assert loadgen.session_cpu(2**22 + 12345) is None  # no such session


RAW = """\
thread (101): MainThread;run (asyncio/runners.py:118) 60
thread (101): MainThread;run (asyncio/runners.py:118);handle (kerasexport/serving/grpc/calls.py:99) 20
thread (101): MainThread;run (asyncio/runners.py:118);model_infer (kerasexport/serving/grpc/kserve.py:70);\
inc (prometheus_client/values.py:28) 15
thread (101): MainThread;run (asyncio/runners.py:118);helper (contextlib.py:301) 5
thread (102): Thread-1 (_poll_wrapper);_poll_wrapper (grpc/_cython/poll.py:1) 30
thread (103): kerasexport-grpc_0;_unary_response_in_pool (grpc/_server.py:600) 45
thread (104): kerasexport-grpc_11;_unary_response_in_pool (grpc/_server.py:600) 45
"""


def test_samples_are_shared_out_by_where_the_main_thread_was(sampling, tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text(RAW)
    # 1 s at sampling.RATE samples a second, 300 requests answered meanwhile.
    summary = sampling.summarize(str(raw), 1, 300)
    main = {where: (share, per) for where, share, per in summary["main"]}
    assert main[sampling.LOOP_C][0] == pytest.approx(0.6)
    assert main["`serving/grpc/calls.py`"][0] == pytest.approx(0.2)
    assert main["`prometheus_client`"][0] == pytest.approx(0.15)
    assert main["`contextlib.py`"][0] == pytest.approx(0.05)
    # 60 samples at RATE a second over 300 requests.
    assert summary["loop_c"] == pytest.approx(60 / sampling.RATE / 300 * 1e6)
    assert summary["python"] == pytest.approx(40 / sampling.RATE / 300 * 1e6)
    threads = {name: (share, per) for name, share, per in summary["threads"]}
    assert threads["MainThread"] == pytest.approx((100 / sampling.RATE, 100 / sampling.RATE / 300 * 1e6))
    assert threads["Thread-1 (_poll_wrapper)"][0] == pytest.approx(30 / sampling.RATE)
    # grpcio's worker threads are one group, their shares summed.
    assert threads["kerasexport-grpc"] == pytest.approx((90 / sampling.RATE, 90 / sampling.RATE / 300 * 1e6))
    assert [name for name, _, _ in summary["threads"]][:2] == ["MainThread", "kerasexport-grpc"]


def test_sampling_says_why_it_cannot_run(sampling, monkeypatch, tmp_path):
    monkeypatch.setattr(sampling, "PY_SPY", str(tmp_path / "nowhere" / "py-spy"))
    assert "py-spy" in sampling.missing()


def test_the_report_prints_both_cpus_and_the_samples(peers, sampling, tmp_path):
    cell = {"rps": 1000.0, "p50": 1.0, "p99": 2.0, "errors": 0, "client_cpu": 0.4, "server_cpu": 0.97}
    key = (peers.OURS, "grpc", 32)
    res = {"direct": 0.1, "rounds": {key: {0: cell}}, "skipped": {}, "cells": {key: cell}}
    raw = tmp_path / "raw.txt"
    raw.write_text(RAW)
    summary = sampling.summarize(str(raw), 1, 300)
    samples = {(peers.OURS, "grpc"): summary, (peers.CEILING, "grpc"): summary}
    text = peers.section({"mlp": res}, None, False, "up", "", samples=samples)
    assert "| server CPU at 32 | load generator CPU at 32 |" in text
    row = next(line for line in text.splitlines() if line.startswith(f"| {peers.OURS} | gRPC"))
    assert "| 0.97 | 0.40 |" in row
    assert f"| {sampling.LOOP_C} | 60.0% | {summary['loop_c']:.1f} |" in text
    assert "kerasexport-grpc 30% (1000 µs a request)" in text
    assert (f"{summary['python'] + summary['loop_c']:.0f} µs on the event loop "
            f"({summary['python']:.0f} µs of it Python:") in text
    # Without a server session (an older result), the column says so rather than guessing.
    del cell["server_cpu"]
    text = peers.section({"mlp": res}, None, False, "up", "")
    assert "| — | 0.40 |" in next(line for line in text.splitlines() if line.startswith(f"| {peers.OURS} | gRPC"))
    skipped = peers.section({"mlp": res}, None, False, "up", "", samples={"skipped": "no py-spy"})
    assert "skipped: no py-spy." in skipped
