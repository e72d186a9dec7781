#!/usr/bin/env bash
# Every test on every backend, each backend in its own process (Keras fixes
# KERAS_BACKEND at import). Runs everything, then fails if anything failed.
#
#   scripts/test.sh [--only python|r] [BACKEND...]
#
# The suites are independent processes, most of them one busy thread, so
# they run side by side, as many at once as TEST_JOBS (default: the cores,
# at most 3), longest first. Each suite's output is printed whole when it
# ends, so suites never interleave; a line marks each start.
set -uo pipefail
cd "$(dirname "$0")/.."
export KERASEXPORT_PYTHON=${KERASEXPORT_PYTHON:-$PWD/.venv/bin/python}
export PYTHONPATH=$PWD/inst/python${PYTHONPATH:+:$PYTHONPATH}

only=all
if [ "${1:-}" = "--only" ]; then only=$2; shift 2; fi
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(tensorflow jax torch)
cores=$(nproc 2>/dev/null || echo 1)
lanes=${TEST_JOBS:-$(( cores < 3 ? cores : 3 ))}
[[ "$lanes" =~ ^[1-9][0-9]*$ ]] || { echo "TEST_JOBS must be a whole number >= 1, received '$lanes'" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Stopped: stop every suite too (the lanes and everything under them).
descendants() { local c; for c in $(pgrep -P "$1"); do descendants "$c"; echo "$c"; done; }
trap 'kill $(descendants $$) 2>/dev/null; exit 130' INT TERM
started=$SECONDS
# keras3 is on no registry these machines reach: its sources sit beside the
# repository (CI has them).
keras3_sources=${KERAS3_SOURCES:-../shared/r-keras3}
# Minutes since the run began (the whole run must fit CI).
clock() { printf '[%2dm%02ds]' $(( (SECONDS - started) / 60 )) $(( (SECONDS - started) % 60 )); }

names=() commands=()
add() { names+=("$1"); commands+=("$2"); }

pytest_suite() {
  # Its own temporary root: concurrent pytest runs would prune each other's;
  # hypothesis's storage there too, not in the source tree R CMD build packs.
  KERAS_BACKEND=$1 HYPOTHESIS_STORAGE_DIRECTORY="$work/hypothesis-$1" .venv/bin/python -m pytest -q -p no:cacheprovider --durations=10 \
    --basetemp="$work/pytest-$1" tests/python
}

keras3_suite() {
  # Installed once into a git-ignored library.
  local status=0 i=0 order backend
  bash "$keras3_sources/install.sh" "$PWD/.rlib-keras3" || return 1
  # One load order per backend, alternating; each run checks the other
  # order in a fresh R process.
  local orders=(keras3-first kerasexport-first)
  for backend in "${backends[@]}"; do
    order=${orders[$((i % 2))]}; i=$((i + 1))
    echo "-- testthat with keras3 ($order), $backend backend"
    KERAS_BACKEND=$backend R_LIBS="$PWD/.rlib-keras3${R_LIBS:+:$R_LIBS}" \
      Rscript scripts/testthat.R --keras3 "$order" || status=1
  done
  return $status
}

if [ "$only" = all ] || [ "$only" = python ]; then
  for backend in "${backends[@]}"; do
    # The slowest tests of each backend are listed at the end of its run.
    add "pytest/$backend" "pytest_suite $backend"
  done
fi
if [ "$only" = all ] || [ "$only" = r ]; then
  if [ -f "$keras3_sources/install.sh" ]; then
    add "keras3" keras3_suite
  else
    echo "testthat with keras3: SKIPPED, $keras3_sources not found" \
      "(keras3's sources; set KERAS3_SOURCES to run it)"
  fi
fi
# Longest first, by their times on 2 cores: pytest 9-13 min a backend, keras3 4,
# the bench smoke run 3, testthat 2.5 a backend, R CMD check 2.
if [ "$only" = all ]; then
  add "bench --quick" "bash bench/run.sh --quick"  # a smoke run: asserts nothing about speed
fi
if [ "$only" = all ] || [ "$only" = r ]; then
  for backend in "${backends[@]}"; do
    add "testthat/$backend" "KERAS_BACKEND=$backend Rscript scripts/testthat.R"
  done
fi
if [ "$only" = all ]; then
  add "R CMD check" "bash scripts/check.sh"
fi

echo 0 >"$work/next"
: >"$work/failed"

# The index of the next suite to run, or nothing when none is left.
next() {
  (
    flock 9
    i=$(cat "$work/next")
    echo $((i + 1)) >"$work/next"
    [ "$i" -lt ${#names[@]} ] && echo "$i"
  ) 9>"$work/queue.lock"
}

lane() {
  local i t0 status
  while i=$(next) && [ -n "$i" ]; do
    echo "== $(clock) start: ${names[i]}"
    t0=$SECONDS
    if (eval "${commands[i]}") >"$work/log-$i" 2>&1; then status=passed; else
      status=FAILED
      (flock 9; echo "${names[i]}" >>"$work/failed") 9>"$work/failed.lock"
    fi
    (
      flock 9
      printf '== %s %s: %s in %dm%02ds\n' "$(clock)" "${names[i]}" "$status" \
        $(( (SECONDS - t0) / 60 )) $(( (SECONDS - t0) % 60 ))
      cat "$work/log-$i"
    ) 9>"$work/print.lock"
  done
}

echo "== $(clock) ${#names[@]} suites, $lanes at a time"
for _ in $(seq "$lanes"); do lane & done
wait

echo "== $(clock) done"
mapfile -t failed <"$work/failed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "All test suites passed: ${backends[*]}"
