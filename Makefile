# Two commands do all set-up on a fresh machine (Python 3.11 + pip + venv):
#   make report   bootstrap .venv, execute every notebook in a fresh kernel, write reports/
#   make test     bootstrap .venv, lint, unit + integration tests, nbval over notebooks/
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: venv lock lock-keep lint test report notebooks lab system-deps clean

# The environment is the lock: requirements-dev.lock pins every package (hashes included) and
# `make venv` makes .venv hold exactly that set, then wskit itself, without resolving anything.
# A package upgraded or added by hand is put back at the next make; versions move only with
# `make lock` (see the README). uv does the installing: pip bootstraps uv's own locked pin.
LOCK := requirements-dev.lock
UV := $(BIN)/uv

$(UV): $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python tools/lock.py pin uv > $(VENV)/uv.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r $(VENV)/uv.txt
	touch $(UV)

venv: $(UV)
	$(UV) pip sync --quiet --python $(BIN)/python --require-hashes $(LOCK)
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .

# Regenerate the lock from pyproject.toml: every pin moves to the newest release its range allows.
# Then: make notebooks && make test, and commit the lock and the notebooks together.
lock: $(UV)
	$(BIN)/python tools/lock.py compile --upgrade

# The same, keeping every pin that still fits (after adding a dependency to pyproject.toml).
lock-keep: $(UV)
	$(BIN)/python tools/lock.py compile

# Debian's packages the tests need, installed when missing: chromium (browser checks of the
# reports and the FastAPI example) and redis-server (the Redis backplane; the tests start and stop
# their own private servers on free ports, nothing assumes one running).
SYSTEM_PACKAGES := chromium:chromium redis-server:redis-server redis-cli:redis-tools
system-deps:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
	  else echo "missing Debian packages:$$missing; this user cannot install them: apt-get install$$missing" >&2; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lint: venv
	$(BIN)/python tools/lock.py check
	$(BIN)/ruff check wskit tests examples tools $(wildcard benchmarks)
	$(BIN)/ruff format --check wskit tests examples tools $(wildcard benchmarks)
	$(BIN)/mypy --strict wskit examples tools
	$(BIN)/lint-imports

test: lint system-deps
	$(BIN)/python -m pytest tests notebooks $(NBVAL)

report: venv system-deps
	$(BIN)/wskit report --notebooks notebooks --output reports

# Re-execute every notebook in place: the new outputs become nbval's reference.
notebooks: venv system-deps
	$(BIN)/wskit notebooks --notebooks notebooks

lab: venv
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) reports .pytest_cache .mypy_cache .ruff_cache .hypothesis
