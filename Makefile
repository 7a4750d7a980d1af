# `make run`: set up and start Vigil on its embedded defaults.  `make test`: set up and run every test.
# `make run` installs only what running needs (pyproject's dependencies); `make setup` and
# `make test` add the `test` extra (pytest, mypy, schemathesis, Playwright, hadolint...).
VENV ?= .venv
PYTHON ?= python3
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
INSTALL := VENV=$(VENV) PYTHON=$(PYTHON) bash scripts/install.sh

.PHONY: run test setup setup-run bench clean

$(RUN_STAMP): pyproject.toml scripts/install.sh
	$(INSTALL) run
	touch $@

$(STAMP): pyproject.toml scripts/install.sh
	$(INSTALL) test
	touch $@ $(RUN_STAMP)

setup-run: $(RUN_STAMP)

setup: $(STAMP)

run: setup-run
	$(VENV)/bin/vigil serve

test: setup
	bash scripts/test.sh

bench: setup
	for f in bench/bench_*.py; do $(VENV)/bin/python $$f || exit 1; done

clean:
	rm -rf $(VENV) var
