#!/usr/bin/env bash
# Keras's own SavedModel export tests (keras/src/export/saved_model_test.py of
# the installed Keras), once with Keras's exporters and once routed through
# kerasexport, on each backend; prints the pass counts side by side.
#   scripts/keras-export-suite.sh [backend ...]    (default: all three)
# Not part of `make test` (about 10 minutes on 2 cores); a selection of it is
# (tests/python/test_keras_suite.py).
set -uo pipefail
cd "$(dirname "$0")/.."
python=${KERASEXPORT_PYTHON:-$PWD/.venv/bin/python}
export PYTHONPATH=$PWD/inst/python:$PWD/tests/python${PYTHONPATH:+:$PYTHONPATH}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
out=${SUITE_OUT:-$(mktemp -d)}
backends=("$@")
[ ${#backends[@]} -eq 0 ] && backends=(tensorflow jax torch)
for backend in "${backends[@]}"; do
  for mode in raw kerasexport; do
    flag=()
    [ "$mode" = raw ] && flag=(--keras-raw)
    log="$out/$backend-$mode.log"
    KERAS_BACKEND=$backend "$python" -m pytest -q -p no:cacheprovider -p keras_export_suite \
      --pyargs keras.src.export.saved_model_test "${flag[@]}" -rfE --tb=line >"$log" 2>&1
    grep "^keras-export-suite:" "$log" || echo "keras-export-suite: $backend $mode: no summary (see $log)"
  done
done
echo "Logs: $out"
