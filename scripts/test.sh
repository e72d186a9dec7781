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
started=$SECONDS
# Each stage's start, with the minutes since the run began (the suite must fit CI).
stage() { printf '== [%2dm%02ds] %s\n' $(( (SECONDS - started) / 60 )) $(( (SECONDS - started) % 60 )) "$*"; }

if [ "$only" = all ] || [ "$only" = python ]; then
  for backend in "${backends[@]}"; do
    stage "pytest, $backend backend"
    # The slowest tests of each backend are listed at the end of its run.
    KERAS_BACKEND=$backend .venv/bin/python -m pytest -q -p no:cacheprovider --durations=10 tests/python \
      || failed+=("pytest/$backend")
  done
fi
if [ "$only" = all ] || [ "$only" = r ]; then
  for backend in "${backends[@]}"; do
    stage "testthat, $backend backend"
    KERAS_BACKEND=$backend Rscript scripts/testthat.R || failed+=("testthat/$backend")
  done
  # keras3 is on no registry these machines reach: its sources sit beside the
  # repository (CI has them). Installed once into a git-ignored library.
  keras3_sources=${KERAS3_SOURCES:-../shared/r-keras3}
  if [ -f "$keras3_sources/install.sh" ]; then
    stage "keras3: installed into .rlib-keras3 by make setup (checked here, skipped when up to date)"
    if bash "$keras3_sources/install.sh" "$PWD/.rlib-keras3"; then
      # One load order per backend here, alternating; each run checks the
      # other order in a fresh R process.
      orders=(keras3-first kerasexport-first)
      i=0
      for backend in "${backends[@]}"; do
        order=${orders[$((i % 2))]}; i=$((i + 1))
        stage "testthat with keras3 ($order), $backend backend"
        KERAS_BACKEND=$backend R_LIBS="$PWD/.rlib-keras3${R_LIBS:+:$R_LIBS}" \
          Rscript scripts/testthat.R --keras3 "$order" || failed+=("keras3/$backend")
      done
    else
      failed+=("keras3 install")
    fi
  else
    stage "testthat with keras3: SKIPPED, $keras3_sources not found (keras3's sources; set KERAS3_SOURCES to run it)"
  fi
fi
if [ "$only" = all ]; then
  stage "R CMD build and check"
  bash scripts/check.sh || failed+=("R CMD check")
  stage "benchmarks, quick smoke run (asserts nothing about speed)"
  bash bench/run.sh --quick || failed+=("bench --quick")
fi

stage "done"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "All test suites passed: ${backends[*]}"
