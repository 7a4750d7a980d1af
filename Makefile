# `make run`: set up and start Vigil on its embedded defaults.  `make test`: set up and run every test.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: run test setup bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/vigil serve

test: setup
	bash scripts/test.sh

bench: setup
	for f in bench/bench_*.py; do $(VENV)/bin/python $$f || exit 1; done

clean:
	rm -rf $(VENV) var
