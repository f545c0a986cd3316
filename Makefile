# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench eval check clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

## run: the Slack app when tokens are configured, otherwise a local chat in the terminal
run: $(STAMP)
	@$(VENV)/bin/billing-bot run

## test: the whole test suite (offline)
test: $(STAMP)
	$(PY) -m pytest

## bench: speed figures for the issues' targets
bench: $(STAMP)
	$(PY) -m bench

## eval: matcher accuracy on tests/eval
eval: $(STAMP)
	$(PY) -m tests.eval.run_eval

## check: validate the shipped knowledge base
check: $(STAMP)
	$(VENV)/bin/billing-bot kb check

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
