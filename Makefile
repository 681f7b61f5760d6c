# ccx developer commands. `make help` lists them; CI runs `make test` from .ci/run.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYLIB := $(shell python3 -c "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))")
export LD_LIBRARY_PATH := $(PYLIB):$(LD_LIBRARY_PATH)
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup venv build services services-stop services-status lint lint-python lint-rust \
        stubtest test test-rust test-go test-python test-unit test-integration bench bench-ingest bench-pipeline bench-guard oha up

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml Cargo.toml $(wildcard native/src/*.rs native/src/**/*.rs)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## create .venv and install ccx (builds the Rust module) with dev tools

build: ## rebuild the Rust module into the editable install (release profile)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(VENV)/.installed

setup: venv ## everything a fresh machine needs: venv, packages, local services
	scripts/services.sh install

services: ## start RabbitMQ, Redis and FerretDB on loopback and report their health
	scripts/services.sh start
	$(PY) -m ccx.cli services status

services-stop: ## stop the local services
	scripts/services.sh stop

services-status: ## show what runs and where
	$(PY) -m ccx.cli services status

lint-python: venv ## ruff, ruff format --check, mypy --strict on python/ccx
	$(VENV)/bin/ruff check python tests bench loadtest
	$(VENV)/bin/ruff format --check python tests bench loadtest
	$(VENV)/bin/mypy

lint-rust: ## cargo fmt --check and clippy -D warnings
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

stubtest: venv ## check python/ccx/_native.pyi against the built module
	$(PY) -m mypy.stubtest ccx._native --allowlist .mypy-stubtest-allowlist

lint: lint-python lint-rust stubtest ## every static check

test-rust: ## Rust unit tests
	cargo test --quiet

GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
GOENV := GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"

test-go: ## go vet and tests of the FerretDB wrapper (tools/ferretdb; same build flags as its install)
	cd tools/ferretdb && test -z "$$($(dir $(GO))gofmt -l .)" && $(GOENV) $(GO) vet -trimpath ./... && $(GOENV) $(GO) test -trimpath ./...

test-unit: venv ## Python unit tests (no services)
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

test-python: venv ## all Python tests: unit, integration (real services), e2e (sandbox)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test: setup services lint test-rust test-go test-python bench-guard ## THE test command: setup, services, lint, Rust, Go and Python tests

up: setup services ## THE main job: the whole pipeline supervised (`ccx up`), a demo, Ctrl-C stops
	$(PY) -m ccx.cli up $(UP_ARGS)

down: venv ## stop a running `make up` / `ccx up`
	$(PY) -m ccx.cli down

bench-guard: venv ## quick regression guard (about 40 s): a native hot path slower than Python, or the pipeline at 5 msg/s with a webhook p99 over 8 s, fails
	$(PY) -m ccx.cli bench native --budget 0.2 --guard 1.0
	$(PY) -m ccx.cli bench pipeline --rates 5 --duration 4 --warmup 1 --baseline-messages 20 \
		--stop-p99-ms 8000 --quiet --out var/bench-guard/pipeline.json

bench-pipeline: venv ## end to end at rising rates (202 → sent → client webhook), JSON and charts in bench/results
	$(PY) -m ccx.cli bench pipeline --plot

bench: venv ## native hot paths vs pure Python (table); see `ccx bench --help`
	$(PY) -m ccx.cli bench native

oha: ## install oha (pinned, from crates.io) into .bin/oha for the ingest benchmark
	scripts/install-oha.sh

bench-ingest: venv oha ## `ccx bench ingest`: open-loop POST /v1/messages, ccx vs a FastAPI reference
	$(PY) -m ccx.cli bench ingest
