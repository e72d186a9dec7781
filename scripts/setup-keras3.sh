#!/usr/bin/env bash
# keras3 (R) for the tests that run kerasexport beside it: it is on no
# registry these machines reach, so it is installed from its sources beside
# the repository (KERAS3_SOURCES, default ../shared/r-keras3) into the
# git-ignored .rlib-keras3. Idempotent (install.sh skips what is up to date);
# nothing to do, and a printed reason, where the sources are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
sources=${KERAS3_SOURCES:-../shared/r-keras3}
if [ ! -f "$sources/install.sh" ]; then
  echo "setup: keras3's sources not found at $sources; the tests with keras3 will be skipped"
  exit 0
fi
bash "$sources/install.sh" "$PWD/.rlib-keras3"
