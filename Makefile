# kerasexport: `make demo` and `make test` set everything up on a fresh
# Debian bookworm machine (as root), then run. Every step is idempotent.
SHELL := /bin/bash
BACKENDS ?= tensorflow jax torch
PYTHON := $(CURDIR)/.venv/bin/python
export KERASEXPORT_PYTHON := $(PYTHON)
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: all setup system python install docs demo test test-python test-r check bench clean

all: test

setup: system python install

system:
	@bash scripts/setup-system.sh

python: system
	@bash scripts/setup-python.sh

# Reinstalled each time (seconds): the installed package must be this tree.
install: python
	@R CMD INSTALL --no-multiarch --no-test-load . >/tmp/kerasexport-install.log 2>&1 \
	  || { cat /tmp/kerasexport-install.log; exit 1; }

docs: python
	Rscript -e 'roxygen2::roxygenise()'

demo: setup
	Rscript scripts/demo.R

test: setup
	@bash scripts/test.sh $(BACKENDS)

test-python: setup
	@bash scripts/test.sh --only python $(BACKENDS)

test-r: setup
	@bash scripts/test.sh --only r $(BACKENDS)

check: setup
	@bash scripts/check.sh

bench: setup
	@bash bench/run.sh

clean:
	rm -rf kerasexport.Rcheck kerasexport_*.tar.gz .pytest_cache
