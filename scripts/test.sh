#!/usr/bin/env bash
# Every test on every backend, each backend in its own process (Keras fixes
# KERAS_BACKEND at import). Runs everything, then fails if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export KERASEXPORT_PYTHON=${KERASEXPORT_PYTHON:-$PWD/.venv/bin/python}
export PYTHONPATH=$PWD/inst/python${PYTHONPATH:+:$PYTHONPATH}

only=all
if [ "${1:-}" = "--only" ]; then only=$2; shift 2; fi
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(tensorflow jax torch)
failed=()

if [ "$only" = all ] || [ "$only" = python ]; then
  for backend in "${backends[@]}"; do
    echo "== pytest, $backend backend"
    KERAS_BACKEND=$backend .venv/bin/python -m pytest -q -p no:cacheprovider tests/python \
      || failed+=("pytest/$backend")
  done
fi
if [ "$only" = all ] || [ "$only" = r ]; then
  for backend in "${backends[@]}"; do
    echo "== testthat, $backend backend"
    KERAS_BACKEND=$backend Rscript scripts/testthat.R || failed+=("testthat/$backend")
  done
fi
if [ "$only" = all ]; then
  echo "== R CMD build and check"
  bash scripts/check.sh || failed+=("R CMD check")
  echo "== benchmarks, quick smoke run (asserts nothing about speed)"
  bash bench/run.sh --quick || failed+=("bench --quick")
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "All test suites passed: ${backends[*]}"
