#!/usr/bin/env bash
# Benchmarks (not tests): `make bench`. Writes bench/RESULTS-*.md.
# Uses the R package as installed (make install) and the Python of
# KERASEXPORT_PYTHON; the model is built and exported on the TensorFlow
# backend unless KERAS_BACKEND says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
export KERASEXPORT_PYTHON=${KERASEXPORT_PYTHON:-$PWD/.venv/bin/python}
export KERAS_BACKEND=${KERAS_BACKEND:-tensorflow}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
Rscript bench/predict.R bench/RESULTS-predict.md
