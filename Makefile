# The two commands of the README: `make demo` and `make test`. Each makes or refreshes .venv itself:
# `make demo` installs only what the demo needs, `make test` (and lint, docs, bench) the development tools too.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_STAMP := $(VENV)/.demo-installed
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs bench venv clean transcripts

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[demo]'
	touch $@

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(DEMO_STAMP)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	$(PY) -m examples.http_client $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy --strict netsocket drivers mocks

# Re-record tests/data/transcripts/ (after a driver change that alters the AT command sequence).
transcripts: $(STAMP)
	$(PY) -m tests.record_replay.transcripts

# The documentation site (mkdocs-material + mkdocstrings) into site/; any warning fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

# Every benchmark figure, side by side with the peers and the wire (under 10 minutes on 2 cores; not part of test):
# writes benchmarks/results/latest.{json,md,png} and the table in docs/benchmarks.md.
bench: $(STAMP)
	$(PY) -m benchmarks.run $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site
