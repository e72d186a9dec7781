#!/usr/bin/env bash
# Benchmarks (not tests): `make bench` writes bench/RESULTS.md.
#   bench/run.sh           the full ladder, every backend and format (about 65 min)
#   bench/run.sh --quick   a smoke run (< 2 min, part of make test): proves the
#                          scripts work; its numbers are too short to judge by
#                          and go to bench/out/, not RESULTS.md.
# Every ratio compares runs made side by side within this one run.
# The full run first builds the peer servers' virtualenvs (bench/peers/setup.sh,
# idempotent; under bench/peers/venv-*, never a dependency of kerasexport).
set -euo pipefail
cd "$(dirname "$0")/.."
export KERASEXPORT_PYTHON=${KERASEXPORT_PYTHON:-$PWD/.venv/bin/python}
export PYTHONPATH=$PWD/inst/python${PYTHONPATH:+:$PYTHONPATH}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
python=$KERASEXPORT_PYTHON

quick=()
results=bench/RESULTS.md
if [ "${1:-}" = "--quick" ]; then
  quick=(--quick)
  export BENCH_QUICK=1
  results=bench/out/RESULTS-quick.md
fi
out=bench/out
rm -rf "$out"
mkdir -p "$out"

for backend in tensorflow jax torch; do
  echo "== export cost, $backend backend"
  KERAS_BACKEND=$backend "$python" bench/export_cost.py "${quick[@]}" --out "$out/export.jsonl"
done
echo "== cross-backend route, first and warm exports"
if [ ${#quick[@]} -eq 0 ]; then
  KERAS_BACKEND=jax "$python" bench/cross_route.py --out "$out/cross.jsonl"
fi
KERAS_BACKEND=torch "$python" bench/cross_route.py "${quick[@]}" --out "$out/cross.jsonl" --markdown "$out/cross.md"
echo "== artifact speed, Python"
KERAS_BACKEND=tensorflow "$python" bench/artifact_speed.py "${quick[@]}" --out "$out/speed.md" >/dev/null
echo "== reduced precision"
KERAS_BACKEND=tensorflow "$python" bench/precision.py "${quick[@]}" --out "$out/precision.md" >/dev/null
echo "== serving"
KERAS_BACKEND=tensorflow "$python" bench/serve.py "${quick[@]}" --out "$out/serve.md" >/dev/null
echo "== serving against other servers"
if [ ${#quick[@]} -eq 0 ]; then
  bash bench/peers/setup.sh || echo "bench/peers/setup.sh failed: peers without a venv are skipped"
fi
KERAS_BACKEND=tensorflow "$python" bench/peers.py "${quick[@]}" --out "$out/peers.md" >/dev/null
echo "== artifact speed, R"
KERAS_BACKEND=tensorflow Rscript bench/predict.R "$out/predict.md" >/dev/null
"$python" bench/report.py --export "$out/export.jsonl" --sections "$out/cross.md" "$out/speed.md" "$out/precision.md" "$out/predict.md" "$out/serve.md" "$out/peers.md" --out "$results"
echo "Wrote $results"
