# Everything a fresh machine needs: `make demo` (the main job) and `make test` (the test suite).
# Both create the virtual environment .venv on first use and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: simulate the committed CMU clip, write out/demo/ (dataset, PNG plot, summary)
demo: $(STAMP)
	$(PY) examples/demo.py --out out/demo

## test: the whole test suite (tests needing ../shared/data skip cleanly without it)
test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check toolkit export calibration firmware_bridge tests examples benchmarks

## bench: simulation benchmarks, JSON into benchmarks/results/
bench: $(STAMP)
	$(PY) benchmarks/bench_simulation.py

clean:
	rm -rf $(VENV) out .pytest_cache
