#!/usr/bin/env bash
# System set-up for a fresh Debian bookworm machine, run as root: R and the R
# packages from Debian, a reticulate new enough for NumPy 2, and chromium for the
# page's browser tests (Playwright drives it; no browser is downloaded). Idempotent:
# each step checks what is there before it acts.
set -euo pipefail

DEBIAN_PACKAGES=(
  r-base-dev r-cran-testthat r-cran-roxygen2 r-cran-knitr r-cran-rmarkdown
  r-cran-cli r-cran-rlang r-cran-withr r-cran-callr r-cran-processx
  r-cran-jsonlite r-cran-curl r-cran-rcpp r-cran-rcpptoml r-cran-here r-cran-png
  r-cran-rappdirs r-cran-matrix pandoc dpkg-dev xz-utils procps
  chromium
)
RETICULATE_MIN="1.38"
RETICULATE_SOURCE_VERSION="1.41.0.1+dfsg"

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

reticulate_ok() {
  Rscript -e "quit(status = !(requireNamespace('reticulate', quietly = TRUE) && packageVersion('reticulate') >= '$RETICULATE_MIN'))" 2>/dev/null
}
if reticulate_ok; then
  exit 0
fi

# Bookworm's reticulate (1.28) cannot convert NumPy 2 arrays. Build the one
# Debian's next suite carries, from its upstream tarball, fetched from the
# mirror this machine already uses (never a host name written here).
echo "setup: building reticulate $RETICULATE_SOURCE_VERSION from Debian trixie sources"
mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "setup: cannot find a Debian mirror in the apt configuration" >&2; exit 1; }

src_list=/etc/apt/sources.list.d/kerasexport-trixie-src.sources
work=$(mktemp -d)
cleanup() { rm -rf "$work"; rm -f "$src_list"; apt-get update -qq >/dev/null 2>&1 || true; }
trap cleanup EXIT
printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" > "$src_list"
apt-get update -qq >/dev/null 2>&1 || true
(cd "$work" && apt-get source --download-only -qq "r-cran-reticulate=${RETICULATE_SOURCE_VERSION}-1" >/dev/null 2>&1 || true)
tarball=$(ls "$work"/r-cran-reticulate_*.orig.tar.* 2>/dev/null | head -n 1 || true)
[ -n "$tarball" ] || { echo "setup: could not download the reticulate sources" >&2; exit 1; }
R CMD INSTALL "$tarball" >"$work/install.log" 2>&1 || { tail -n 30 "$work/install.log" >&2; exit 1; }
reticulate_ok || { echo "setup: reticulate is still older than $RETICULATE_MIN" >&2; exit 1; }
echo "setup: reticulate $(Rscript -e 'cat(format(packageVersion("reticulate")))') installed"
