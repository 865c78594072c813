# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,plots,faiss,models,distributed]'
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
	$(BIN)/pip install --quiet scikit-learn
	$(BIN)/python bench/core.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .hypothesis
