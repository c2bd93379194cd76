# Two commands do all set-up on a fresh machine (Python 3.11 + pip + venv):
#   make report   bootstrap .venv, execute the notebooks, write reports/
#   make test     bootstrap .venv, lint, unit + integration tests, nbval over notebooks/
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv lint test report notebooks lab clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check wskit tests $(wildcard benchmarks)
	$(BIN)/mypy --strict wskit

test: lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache
