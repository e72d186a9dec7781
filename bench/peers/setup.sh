#!/usr/bin/env bash
# The peers' virtualenvs for bench/peers.py, one per server, and one for the bench's tools
# (py-spy), under bench/peers/venv-* (git-ignored; never a dependency of kerasexport).
# Idempotent: a venv whose requirements file has not changed since it was built is left alone.
#   bench/peers/setup.sh [triton] [mlserver] [kserve] [tools]   (all four by default)
set -euo pipefail
cd "$(dirname "$0")"
python=${PEER_PYTHON:-python3.11}
peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(triton mlserver kserve tools)
for peer in "${peers[@]}"; do
  venv=venv-$peer
  requirements=requirements-$peer.txt
  stamp=$venv/.requirements
  if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$stamp"; then
    echo "peer venv $venv: up to date"
    continue
  fi
  echo "peer venv $venv: installing $requirements"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q -r "$requirements"
  if [ "$peer" = triton ]; then
    # What PyTriton does before it starts tritonserver: a copy of the server with
    # the Python backend's stub for this venv's Python beside the backend.
    site=$("$venv/bin/python" -c 'import pytriton, os; print(os.path.dirname(pytriton.__file__))')
    version=$("$venv/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    rm -rf "$venv/tritonserver"
    cp -r "$site/tritonserver" "$venv/tritonserver"
    rm -rf "$venv/tritonserver/python_backend_stubs"
    cp "$site/tritonserver/python_backend_stubs/$version/triton_python_backend_stub" \
      "$venv/tritonserver/backends/python/triton_python_backend_stub"
  fi
  cp "$requirements" "$stamp"
done
