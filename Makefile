# kerasexport: `make demo` and `make test` set everything up on a fresh
# Debian bookworm machine (as root), then run. Every step is idempotent.
SHELL := /bin/bash
BACKENDS ?= tensorflow jax torch
PYTHON := $(CURDIR)/.venv/bin/python
export KERASEXPORT_PYTHON := $(PYTHON)
export TF_CPP_MIN_LOG_LEVEL := 2
# Tests import this tree's Python core, whatever is installed in the venv.
export PYTHONPATH := $(CURDIR)/inst/python
# RLIB=dir installs the R package into dir instead of the site library
# (used to work on several checkouts at once).
RLIB ?=
ifneq ($(RLIB),)
export R_LIBS := $(abspath $(RLIB))
INSTALL_LIB := -l $(abspath $(RLIB))
endif

.PHONY: all setup system python install keras3 docs demo test test-python test-r check bench clean

all: test

setup: system python install keras3

system:
	@bash scripts/setup-system.sh

python: system
	@bash scripts/setup-python.sh

# Reinstalled each time (seconds): the installed package must be this tree.
install: python
	@$(if $(RLIB),mkdir -p $(RLIB) &&) R CMD INSTALL --no-multiarch --no-test-load $(INSTALL_LIB) . >.install.log 2>&1 \
	  || { cat .install.log; exit 1; }

# keras3's R sources beside the repository (see scripts/setup-keras3.sh).
keras3: system
	@bash scripts/setup-keras3.sh

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
