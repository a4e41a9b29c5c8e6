# `make demo` and `make test` set everything up on a fresh machine (a venv in .venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean check-pages docs

# the C sources setup.py builds (its NATIVE, HEADER and _fastcore.c)
C_SOURCES := $(addprefix testbed/ipc/,bitmap.c atomics.c mailbox.c pagetable.c recorder.c gate.c \
	handoff.c hooks.c access_hooks.c tb.h) kernel_model/genode/_fastcore.c

$(STAMP): pyproject.toml setup.py $(C_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/testbed demo

test: $(STAMP)
	$(BIN)/ruff check testbed kernel_model scenarios bench tests
	$(BIN)/pytest -n auto

lint: $(STAMP)
	$(BIN)/ruff check testbed kernel_model scenarios bench tests
	$(BIN)/ruff format --check testbed kernel_model scenarios bench tests

# the whole suite, default profile: a JSON result and its HTML report (PROFILE=quick|tough)
PROFILE ?= default
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'  # frontrun, the peer of the kill-rate and sctbench tables
	mkdir -p bench/results
	$(BIN)/testbed bench --profile $(PROFILE) --json bench/results/bench-$(PROFILE).json \
		--html bench/results/bench-$(PROFILE).html

# one report page of each kind (stress, explore, campaign, bench) from real runs, opened in
# headless Chromium: fails on a blank page, a script error or a request leaving the page;
# screenshots in build/pages/ (not part of `make test`: it needs a browser and ~1 min)
check-pages: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/python tests/pages/check_pages.py --out build/pages

# the documentation site from docs/ (mkdocs, material theme) into build/site, readable offline
docs: $(STAMP)
	$(BIN)/pip install --quiet -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	$(BIN)/testbed clean 2>/dev/null || true
	rm -rf build *.egg-info testbed/ipc/_native*.so kernel_model/genode/_fastcore*.so
