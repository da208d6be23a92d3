# ses-rules: every target installs what it needs into .venv first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: install test test-fast demo bench package fuzz schema serve new-policy clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,cdk]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

# Unit and data-driven cases in well under 15 s: what to run after every edit.
test-fast: install
	HYPOTHESIS_PROFILE=fast $(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider

demo: install
	@set -e; for p in policies/*.yaml examples/policies/*.yaml; do \
	  echo "== $$p"; $(BIN)/ses-rules dry-run $$p examples/events/; echo; done

bench: install
	$(BIN)/pip install -q --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m benchmarks

# A local SMTP server on 127.0.0.1:2525 deciding with the default policy; CONTINUE mail lands in
# build/maildir. More options: make serve SERVE_ARGS='--watch --relay 127.0.0.1:1025'
SERVE_ARGS ?=
serve: install
	$(BIN)/ses-rules serve policies/default.yaml --maildir build/maildir $(SERVE_ARGS)

package: install
	$(BIN)/python scripts/package.py

fuzz: install
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -m fuzz --timeout=3600 tests

# A deployable policy and its tests, passing make test as written: make new-policy NAME=prod
new-policy:
	@$(PY) scripts/new_policy.py "$(NAME)"

schema: install
	$(BIN)/ses-rules schema > docs/policy.schema.json

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
