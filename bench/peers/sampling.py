"""Where a running server's threads spend their time, sampled from outside by py-spy (bench/peers.py).

cProfile (bench/peers/profiled.py) sees Python functions only and slows what
it counts. py-spy reads the server's stacks a few hundred times a second
without stopping it, and a sample whose innermost Python frame is the event
loop's `run` is the loop running C code it calls: uvloop, httptools, system
calls, none of which leave Python frames. grpcio's core and Cython layer run
in grpcio's own threads (its worker threads, named `kerasexport-grpc_N` in
ours, and its poller), counted per thread group.
py-spy lives in the bench's own virtualenv (bench/peers/venv-tools, made by
bench/peers/setup.sh), never in kerasexport's.
"""

import collections
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PY_SPY = os.path.join(HERE, "venv-tools", "bin", "py-spy")
RATE = 300  # samples a second: cheap enough not to move the server's requests/s
LOOP_C = "C code the event loop calls (uvloop, httptools, system calls)"


def missing():
    """Why sampling cannot run here, or None."""
    if not os.path.exists(PY_SPY):
        return "no py-spy (bench/peers/setup.sh tools)"
    return None


def record(pid, seconds, out, pin=()):
    """Sample process `pid` and its threads for `seconds` into `out` (py-spy's raw format).

    Returns:
        None, or why it failed (py-spy's last line: no ptrace here, the process exited).
    """
    done = subprocess.run([*pin, PY_SPY, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                           "--rate", str(RATE), "--format", "raw", "--output", out, "--threads",
                           "--nonblocking"], capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0 or not os.path.exists(out):
        lines = (done.stderr or done.stdout).strip().splitlines()
        return lines[0] if lines else f"py-spy exited with {done.returncode}"
    return None


def _where(frame):
    """What a sampled innermost frame counts under: a kerasexport module, the loop's C code, or a package."""
    name, _, location = frame.rpartition(" (")
    path = location.rsplit(":", 1)[0]
    if path.endswith("asyncio/runners.py") or path.endswith("asyncio/base_events.py"):
        return LOOP_C
    if path.startswith("kerasexport/"):
        return f"`{path[len('kerasexport/'):]}`"
    return f"`{path.split('/')[0] or name}`"


def summarize(raw, seconds, requests):
    """Shares of the samples in py-spy's raw file `raw`.

    Args:
        raw: the file `record()` wrote (``thread (id): name;frame;...;frame count`` lines).
        seconds: how long it sampled.
        requests: requests answered meanwhile.

    Returns:
        `{"threads": [(thread group, share of one thread's wall clock not idle, summed over the
        group's threads, µs per request)], "main": [(where, share of the main thread's samples,
        µs per request)], "loop_c": µs per request of the loop's C code, "python": µs per request
        of the main thread's rest, "requests": ..., "seconds": ...}`. A group is the threads
        whose names differ only in a trailing ``_N``.
    """
    threads, main = collections.Counter(), collections.Counter()
    with open(raw) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if not count.isdigit() or len(frames) < 2:
                continue
            thread = frames[0].split(": ", 1)[-1]
            threads[re.sub(r"_\d+$", "", thread)] += int(count)
            if thread == "MainThread":
                main[_where(frames[-1])] += int(count)
    possible = RATE * seconds
    total = sum(main.values())

    def per_request(n):
        return n / RATE / requests * 1e6 if requests else float("nan")

    return {
        "threads": [(name, n / possible, per_request(n)) for name, n in threads.most_common()],
        "main": [(where, n / total, per_request(n)) for where, n in main.most_common()] if total else [],
        "loop_c": per_request(main[LOOP_C]),
        "python": per_request(total - main[LOOP_C]),
        "requests": requests, "seconds": seconds,
    }
