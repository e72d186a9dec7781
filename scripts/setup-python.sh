#!/usr/bin/env bash
# The project's Python: a venv at .venv with the pinned set from
# inst/python/constraints.txt, and the kerasexport core installed editable. Idempotent: a
# stamp records the hash of the pins; nothing is reinstalled while it matches.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP=$VENV/.kerasexport-pins
want=$(cat inst/python/constraints.txt requirements.txt requirements-nodeps.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  exit 0
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
echo "setup: installing the pinned Python packages into $VENV"
# torch alone first, pinned: an unpinned torch pulls several GB of CUDA.
pip install "$(grep "^torch==" inst/python/constraints.txt)"
pip install -r requirements.txt -c inst/python/constraints.txt
# TF-Serving's gRPC modules and Triton's server, without what they ask for: their own
# pins would pull tensorflow (not -cpu) and NumPy < 2; only their files are used.
pip install --no-deps -r requirements-nodeps.txt -c inst/python/constraints.txt
pip install --no-deps -e .
echo "$want" > "$STAMP"
