#!/usr/bin/env bash
# R CMD build, then R CMD check --no-manual --no-tests --no-build-vignettes; fails on any
# ERROR or WARNING. The build has run the vignettes already (and fails if one
# does); the check still runs their R code, but does not weave them a third time.
set -euo pipefail
cd "$(dirname "$0")/.."
export KERASEXPORT_PYTHON=${KERASEXPORT_PYTHON:-$PWD/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# R CMD build copies the whole tree, following symlinks, before it applies
# .Rbuildignore: build from a copy without the virtualenv (gigabytes) and the
# R libraries.
mkdir -p "$work/src/kerasexport"
tar -C . --exclude=./.venv --exclude='./.rlib*' --exclude=./.git -cf - . | tar -C "$work/src/kerasexport" -xf -
(cd "$work" && R CMD build --no-manual src/kerasexport) >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
tarball=$(cd "$work" && ls kerasexport_*.tar.gz | tail -n 1)
# The tests ran on every backend against the installed package
# (scripts/test.sh); the check does not run them a fourth time.
(cd "$work" && _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual --no-tests --no-build-vignettes "$tarball") >"$work/check.log" 2>&1 || true
sed -n '/^Status:/p' "$work/check.log"
if grep -qE "^Status: .*(ERROR|WARNING)" "$work/check.log" || ! grep -q "^Status:" "$work/check.log"; then
  cat "$work/check.log"
  for f in "$work"/kerasexport.Rcheck/00install.out "$work"/kerasexport.Rcheck/tests/testthat.Rout.fail; do
    [ -f "$f" ] && { echo "--- $f"; tail -n 60 "$f"; }
  done
  exit 1
fi
# Every NOTE with the check it belongs to (some end a multi-line check).
grep -E "NOTE$" -B 3 -A 6 "$work/check.log" || true
