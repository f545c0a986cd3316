# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench eval fit-decide check clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing billing-bot into $(VENV) (log: $(VENV)/install.log)..." >&2
	@$(PY) -m pip install --disable-pip-version-check -e '.[test]' > $(VENV)/install.log 2>&1 \
		|| { cat $(VENV)/install.log >&2; exit 1; }
	@$(PY) -m compileall -q bot > /dev/null  # bytecode, as a non-editable install would have (start-up)
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

## eval: matcher accuracy: cross-validated on knowledge/asked, and on the held-out sets in tests/eval
eval: $(STAMP)
	$(PY) -m tests.eval.run_eval

## fit-decide: refit how the matcher's and the classifier's opinions are weighed (bot/core/decide_weights.json)
fit-decide: $(STAMP)
	$(PY) -m tests.eval.fit_decide

## check: validate the shipped knowledge base
check: $(STAMP)
	$(VENV)/bin/billing-bot kb check

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
