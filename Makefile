# Everything a fresh machine needs: `make demo` (the main job) and `make test` (the test suite).
# Both create the virtual environment .venv on first use and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "installing into $(VENV) (log: $(VENV)/install.log; a few minutes on first use)"
	@( $(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet -e '.[dev]' ) \
		> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	touch $(STAMP)

## demo: the main job, end to end on what the repository ships (no ../shared needed):
##   simulate the committed CMU clip (out/demo/), export the packaged default model to int8 phone, watch and watch-acc
##   bundles (dist/), benchmark them (dist/bench/), and stream a held-out real recording live through a virtual
##   watch (bleak over bumble) into the exported model
demo: $(STAMP)
	$(PY) examples/demo.py --out out/demo
	$(VENV)/bin/edge-export --int8
	$(VENV)/bin/edge-bench dist --threads 1,2 --runs 100
	$(VENV)/bin/edge-stream --virtual sp-sw-har:s05_03 --data-root tests/fixtures --model dist/watch --no-record

## test: the whole test suite (tests needing ../shared/data skip cleanly without it)
test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check toolkit export calibration firmware_bridge tests examples benchmarks

## bench: simulation and live-streaming benchmarks, JSON into benchmarks/results/
bench: $(STAMP)
	$(PY) benchmarks/bench_simulation.py
	$(PY) benchmarks/bench_stream.py

clean:
	rm -rf $(VENV) out dist recordings .pytest_cache
