"""bench/peers.py's report over several rounds: medians, ratios within a round, ranges.

Pure report code on hand-made results (the measuring itself runs in `make bench`,
and once in quick mode in `make test`).
"""

import importlib.util
import os
import sys

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers.py")


@pytest.fixture(scope="module")
def peers():
    before = list(sys.path)
    spec = importlib.util.spec_from_file_location("bench_peers", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Importing the bench leaves this process as it was: bench/peers/triton/ (Triton's model.py)
    # on the path would be taken for OpenAI's `triton` by torch, here and in workers started later.
    assert sys.path == before
    return module


def _cell(rps, p50=1.0, errors=0):
    return {"rps": rps, "p50": p50, "p99": 2 * p50, "errors": errors, "client_cpu": 0.3}


TRITON = "Triton (PyTriton 0.7.0's tritonserver, Python backend)"


def _results(peers):
    ours, unbatched = (peers.OURS, "v2_binary", 32), (peers.OURS_UNBATCHED, "v2_binary", 32)
    triton = (TRITON, "v2_binary", 32)
    rounds = {
        ours: {0: _cell(900), 1: _cell(1200, errors=1), 2: _cell(600)},
        unbatched: {0: _cell(300), 1: _cell(600), 2: _cell(400)},
        # Triton failed in round 1: the ratios come from rounds 0 and 2 only.
        triton: {0: _cell(1000), 1: "load failed: reset", 2: _cell(500)},
        (peers.OURS, "v2_binary", 1): {0: _cell(100, p50=0.4), 1: _cell(100, p50=0.9), 2: _cell(100, p50=0.5)},
    }
    res = {"direct": 0.1, "rounds": rounds, "skipped": {}}
    res["cells"] = {key: peers._median_round(list(runs.values())) for key, runs in rounds.items()}
    return {"mlp": res}


def test_a_cell_is_its_median_round_with_every_rounds_errors(peers):
    cell = _results(peers)["mlp"]["cells"][(peers.OURS, "v2_binary", 32)]
    assert cell["rps"] == 900
    assert cell["errors"] == 1
    # Two rounds: the lower of the middle two.
    assert peers._median_round([_cell(5), _cell(7)])["rps"] == 5
    assert peers._median_round(["load failed: x", "load failed: y"]) == "load failed: x"


def test_ratios_pair_rounds_and_skip_a_failed_one(peers):
    res = _results(peers)["mlp"]
    ratios = peers._ratios(res, (peers.OURS, "v2_binary", 32), (TRITON, "v2_binary", 32))
    assert ratios == [0.9, 1.2]
    assert peers._ratio_text(ratios) == "1.05× (0.90–1.20×)"
    assert peers._ratio_text([1.5]) == "1.50×"


def test_the_report_reads_medians_and_ranges(peers):
    text = peers.section(_results(peers), None, False, "up", "", rounds=3)
    assert "3 rounds, one after another" in text
    assert "kerasexport ÷ this at 32 (median, range) |" in text
    triton_row = next(line for line in text.splitlines() if line.startswith(f"| {TRITON} |"))
    assert triton_row.endswith("| 1.05× (0.90–1.20×) |")
    assert "1 round(s) failed: load failed: reset" in triton_row
    # Ours over unbatched per round: 3.00, 2.00, 1.50.
    assert "HTTP binary tensors (KServe v2): 2.00× (1.50–3.00×) (target ≥ 2×): met." in text
    # Median of the 1-client p50s (0.4, 0.9, 0.5) over the 0.1 ms floor.
    assert "p50 over onnxruntime at 1 client, HTTP binary tensors (KServe v2): +0.40 ms" in text
    assert "every transport both speak: met." in text
