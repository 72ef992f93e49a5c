# Everything a newcomer needs, from a bare python3: `make test`, `make demo`, `make bench`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The lowest declared versions: pyproject's floors, pinned exactly by scripts/lowest_pins.py.
LOWEST := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.installed
comma := ,
EXTRAS := dev,otel,redis

.PHONY: test test-lowest lint typecheck unit demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

$(LOWEST_STAMP): pyproject.toml scripts/lowest_pins.py
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(PYTHON) scripts/lowest_pins.py $(subst $(comma), ,$(EXTRAS)) > $(LOWEST)/constraints.txt
	$(LOWEST)/bin/python -m pip install -q -c $(LOWEST)/constraints.txt -e '.[$(EXTRAS)]'
	touch $(LOWEST_STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck unit

# The suite on the lowest versions pyproject declares (lint and types are checked on newest).
test-lowest: $(LOWEST_STAMP)
	$(LOWEST)/bin/pytest -q

demo: $(STAMP)
	$(VENV)/bin/qconnect-async list-import-jobs --demo

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(LOWEST) .mypy_cache .ruff_cache tests/.aws-empty
