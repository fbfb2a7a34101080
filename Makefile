# The README's two commands are `make demo` and `make test`; everything else serves them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deps-installed
SCENARIO ?= healthy
SANDBOX_DIR ?= .sandbox
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help venv os-deps demo test lint sanity unit integration ee-check molecule flake-check sandbox-up sandbox-down build clean bench

help:
	@echo "make demo   - bring up the sandbox in its bad-release scenario and run playbooks/rollback.yml"
	@echo "make test   - every test tier: lint, sanity, unit, then integration with ee-check and molecule beside it"
	@echo "make ee-check - resolve the execution environment's requirements as ansible-builder would build it"
	@echo "make molecule - every role's molecule scenario (extensions/molecule), each on a sandbox of its own"
	@echo "make flake-check - the integration tier FLAKE_ROUNDS (3) times in a row, stopping at the first failure"
	@echo "make sandbox-up [SCENARIO=name] / make sandbox-down"

os-deps:
	@scripts/install-os-deps

# requirements.txt gives the collection's ranges (what an execution environment merges); constraints.txt
# locks every package of the development venv to the versions CI runs.
$(STAMP): requirements.txt requirements-dev.txt constraints.txt | os-deps
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

venv: os-deps $(STAMP)

demo: venv
	@scripts/demo

# lint, sanity and unit first (minutes, and they fail fast); then the integration tier with ee-check and
# molecule beside it (scripts/beside-integration says why), their output printed after the integration tier's.
test: venv
	$(MAKE) lint
	$(MAKE) sanity
	$(MAKE) unit
	@MAKE="$(MAKE)" scripts/beside-integration

lint: venv
	$(VENV)/bin/ansible-lint --profile production

sanity: venv
	@scripts/sanity

unit: venv
	$(VENV)/bin/pytest tests/unit -q -n auto

# Three workers, whole files each: every worker brings up its own sandbox on free ports, and most of a
# test's time is spent waiting on the emulators' controllers (lags, grace periods, rollouts) and on Prometheus
# scrapes, so a third worker on a 2-core machine shortens the tier; --durations names the slowest tests.
# INTEGRATION_DURATIONS=0 lists every test's time (what a speed-up starts from).
INTEGRATION_WORKERS ?= 3
INTEGRATION_DURATIONS ?= 25
integration: venv
	$(VENV)/bin/pytest tests/integration tests/sandbox -q -n $(INTEGRATION_WORKERS) --dist loadfile \
	  --durations=$(INTEGRATION_DURATIONS)

# ansible-builder create + introspection + pip's resolver for the image's Python + bindep: fails naming
# the packages when the execution environment could not be built (scripts/ee-check). pip reads its index
# from its usual configuration; PIP_NO_INDEX=1 PIP_FIND_LINKS=<wheelhouse> runs it offline.
ee-check: venv
	$(PY) scripts/ee-check

# One scenario per role (extensions/molecule/<role>/): converge -> idempotence -> verify. molecule runs from the
# collection root; its settings are .config/molecule/config.yml (no ANSIBLE_CONFIG: the scenarios bring their
# own inventory). The scenarios run one after another on ONE sandbox that this target starts (its watcher takes
# it down should make be killed) and stops: each scenario's create switches it to the scenario's world (every
# service reset and re-seeded) instead of a start-up and a shut-down per scenario (extensions/molecule/README.md).
# MOLECULE_SHARED_SANDBOX=0 gives each scenario a private sandbox again, as `molecule test -s <role>`
# does; that is what MOLECULE_ARGS="--workers 2" (two scenarios at once, molecule: experimental) needs.
MOLECULE_ARGS ?=
MOLECULE_SHARED_SANDBOX ?= 1
molecule: venv
	@set -u; shared=; \
	if [ "$(MOLECULE_SHARED_SANDBOX)" = 1 ]; then shared=$$(mktemp -d /tmp/halobuzz-molecule-XXXXXX) && \
	  $(PY) tests/sandbox/sandbox.py up --dir "$$shared" --scenario healthy --owner-pid $$$$ || { rm -rf "$$shared"; exit 1; }; fi; \
	env -u ANSIBLE_CONFIG HALOBUZZ_MOLECULE_SHARED_SANDBOX="$$shared" PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	  $(VENV)/bin/molecule test --all $(MOLECULE_ARGS); rc=$$?; \
	if [ -n "$$shared" ]; then $(PY) tests/sandbox/sandbox.py down --dir "$$shared"; rm -rf "$$shared"; fi; \
	exit $$rc

# Issue 13: a test suite that never flakes. Not part of `make test`: the integration tier
# FLAKE_ROUNDS times in a row from the same checkout, stopping at the first red round; each
# round's wall time is printed (and kept in .flake-check/rounds.txt) for the closing note.
FLAKE_ROUNDS ?= 3
flake-check: venv
	@mkdir -p .flake-check; : > .flake-check/rounds.txt
	@set -e; for round in $$(seq 1 $(FLAKE_ROUNDS)); do \
	  start=$$(date +%s); \
	  echo "== flake-check round $$round/$(FLAKE_ROUNDS) =="; \
	  if ! $(MAKE) --no-print-directory integration; then \
	    echo "flake-check: round $$round FAILED after $$(( $$(date +%s) - start ))s" | tee -a .flake-check/rounds.txt; \
	    exit 1; \
	  fi; \
	  echo "flake-check: round $$round passed in $$(( $$(date +%s) - start ))s" | tee -a .flake-check/rounds.txt; \
	done; \
	echo "flake-check: $(FLAKE_ROUNDS) rounds in a row green"

sandbox-up: venv
	$(PY) tests/sandbox/sandbox.py up --dir $(SANDBOX_DIR) --scenario $(SCENARIO)

sandbox-down: venv
	$(PY) tests/sandbox/sandbox.py down --dir $(SANDBOX_DIR)

build: venv
	$(VENV)/bin/ansible-galaxy collection build --force --output-path build/

# The issue-sized runs (800k documents, a 1 GB archive) take hours against nx-27017; `make bench`
# uses sizes that finish in minutes. Run a script by hand with its full sizes for the real figures:
#   PYTHONPATH=$PWD/.collections:$PWD/tests/integration:$PWD/tests/sandbox .venv/bin/python bench/<script>.py ...
# Scripts that import the collection or the test helpers do so by module name, from the
# directories pytest.ini's pythonpath gives the tests; they do not edit sys.path themselves.
BENCH_PY := PYTHONPATH=$(CURDIR)/.collections:$(CURDIR)/tests/integration:$(CURDIR)/tests/sandbox $(PY)
bench: venv
	$(BENCH_PY) bench/kubeemu_startup.py
	$(PY) bench/sandbox_startup.py
	$(PY) bench/rollback_vs_kubectl.py
	$(BENCH_PY) bench/redis_audit.py
	$(BENCH_PY) bench/mongo_restore_throughput.py 2500 10000 40000
	$(BENCH_PY) bench/mongo_restore_rss.py --restore-size 256

clean:
	rm -rf build tests/output .pytest_cache
