# Everything a newcomer needs, from a bare python3: `make test`, `make demo`, `make bench`,
# `make docs`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCKED := $(VENV)/.locked
# The development toolchain, pinned with hashes: `make test` installs the same versions any day.
# `make lock` refreshes it (pyproject's ranges stay ranges; the lock is what we develop on).
LOCK := requirements/dev.txt
# The lock's own tools, pinned too, so a refresh depends only on what the index offers.
LOCK_TOOLS := pip==26.3 pip-tools==7.7.0
# The lowest declared versions: pyproject's floors, pinned exactly by scripts/lowest_pins.py.
LOWEST := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.installed
# The newest versions the ranges allow, resolved anew on every run.
NEWEST := .venv-newest
comma := ,
EXTRAS := dev,otel,redis

.PHONY: test test-lowest test-newest lint typecheck unit lock demo bench docs clean mutate flaky

# A new lock gets a new venv: installing over an old one would keep what the lock dropped.
$(LOCKED): $(LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r $(LOCK)
	touch $(LOCKED)

# A pyproject change reinstalls the package alone, then checks the lock still meets it.
$(STAMP): $(LOCKED) pyproject.toml
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) scripts/check_lock.py $(LOCK)
	touch $(STAMP)

$(LOWEST_STAMP): pyproject.toml scripts/lowest_pins.py
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(PYTHON) scripts/lowest_pins.py $(subst $(comma), ,$(EXTRAS)) > $(LOWEST)/constraints.txt
	$(LOWEST)/bin/python -m pip install -q -c $(LOWEST)/constraints.txt -e '.[$(EXTRAS)]'
	touch $(LOWEST_STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks scripts
	$(VENV)/bin/ruff format --check src tests examples benchmarks scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint typecheck unit

# The suite on the lowest versions pyproject declares (lint and types are checked on the lock).
test-lowest: $(LOWEST_STAMP)
	$(LOWEST)/bin/pytest -q

# The suite on the newest versions pyproject allows: a release that breaks users shows here first.
test-newest:
	rm -rf $(NEWEST)
	$(PYTHON) -m venv $(NEWEST)
	$(NEWEST)/bin/python -m pip install -q --upgrade pip
	$(NEWEST)/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e '.[$(EXTRAS)]'
	@# Which versions "newest" meant today, for a failure to be read later.
	@$(NEWEST)/bin/python -m pip list --format freeze \
		| grep -iE '^(aiobotocore|botocore|aiohttp|pydantic|moto|redis|pytest|pytest-asyncio)==' \
		| tr '\n' ' '; echo
	$(NEWEST)/bin/pytest -q

# Refresh the lock to the newest versions pyproject's ranges allow; commit it on its own.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q $(LOCK_TOOLS)
	mkdir -p $(dir $(LOCK))
	CUSTOM_COMPILE_COMMAND="make lock" .venv-lock/bin/pip-compile -q --upgrade \
		--generate-hashes --allow-unsafe --strip-extras --annotation-style line \
		--no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
		$(foreach extra,$(subst $(comma), ,$(EXTRAS)),--extra $(extra)) \
		-o $(LOCK) pyproject.toml
	rm -rf .venv-lock

demo: $(STAMP)
	$(VENV)/bin/qconnect-async list-import-jobs --demo

# The documentation site (mkdocs.yml, docs/) into site/, strictly: a broken link or anchor, a
# reference that does not resolve or a docstring that does not parse fails the build.
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet

# --awscli: the CLI's rows against awscli, installed once in .venv-awscli (from the index).
bench: $(STAMP)
	$(PY) -m benchmarks --awscli

clean:
	rm -rf $(VENV) $(LOWEST) $(NEWEST) .venv-lock .venv-awscli .mypy_cache .ruff_cache tests/.aws-empty site

# Mutation testing of the core ([tool.mutmut] in pyproject.toml says which modules and tests):
# not part of `make test` or CI. Two children (both cores), niced, from scratch each time (the
# venv's mypy on PATH for the type check). The last lines give the score and every survivor
# not written down as equivalent (`.venv/bin/mutmut show NAME` shows one); it fails while any.
mutate: $(STAMP)
	rm -rf mutants
	PATH="$(abspath $(VENV))/bin:$$PATH" nice -n 10 $(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut results --all true | $(PY) scripts/mutation_report.py tests/mutation_equivalents.txt

# The whole suite RUNS times, each in a new random order; every seed is printed, and a failed
# run is replayed with `.venv/bin/pytest --randomly-seed=N`.
RUNS ?= 5
flaky: $(STAMP)
	@failed=""; for run in $$(seq $(RUNS)); do \
		seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
		echo "=== run $$run of $(RUNS): --randomly-seed=$$seed"; \
		nice -n 10 $(VENV)/bin/pytest -q --randomly-seed=$$seed || failed="$$failed $$seed"; \
	done; \
	if [ -n "$$failed" ]; then echo "=== failed with seeds:$$failed"; exit 1; fi; \
	echo "=== $(RUNS) runs passed"

