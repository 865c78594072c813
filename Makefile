# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,plots,tables,faiss,models,distributed,site]'
	# the leaderboard's browser tests use Debian's chromium (installed as root when missing)
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } || \
		echo "note: no chromium; the leaderboard's browser tests will be skipped"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m reference_models.demo --out runs/demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

fuzz: $(STAMP)  # the thorough fuzz profile (by hand: minutes); make test runs the fast one
	VPRMETRICS_FUZZ=thorough $(BIN)/python -m pytest -q tests/fuzz

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/core.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis
