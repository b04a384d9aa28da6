# Flagman developer entry points. Everything installs itself: a fresh machine needs only python3 and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
TOOLS_BIN := $(CURDIR)/.tools/bin
export PATH := $(TOOLS_BIN):$(CURDIR)/$(VENV)/bin:$(PATH)
PYTEST_ARGS ?=

.PHONY: setup tools test test-fast lint fmt demo demo-real bench clean control-plane conformance

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

tools:
	bash scripts/install-tools.sh $(TOOLS_BIN)

test: setup tools checkov
	bash scripts/run-tests.sh $(PYTEST_ARGS)

# The unit tiers without the slow tests, for the edit-test loop (`make test` runs everything).
UNIT_TESTS := tests/controller tests/loadtester tests/goconv tests/flagman
test-fast: setup
	$(PY) -m pytest -q -m "not slow" --ignore=tests/controller/integration $(UNIT_TESTS) $(PYTEST_ARGS)

fmt: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

demo: setup tools
	$(PY) -m flagman demo

# the same tutorial on the real control plane (built by `make control-plane`) with the sandbox's node agent
demo-real: setup tools control-plane
	$(PY) -m flagman demo --control-plane real

bench: setup tools
	$(PY) -m bench

# The real Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler) from Go modules.
control-plane:
	bash scripts/build-control-plane.sh

# The emulator measured against the real control plane: record the API requests of a set of test modules,
# replay them on kube-apiserver, print the share with identical outcome (bench/README.md, Conformance).
CONFORMANCE_ARGS ?=
conformance: setup tools
	$(PY) -m bench.conformance.run $(CONFORMANCE_ARGS)

# --- install paths: CRDs from their single source, chart lint, container images ---
.PHONY: crds charts-lint images checkov
IMAGE_REGISTRY ?= ghcr.io/flagman
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)
CRD_SOURCE := kustomize/base/flagman/crd.yaml

crds:
	mkdir -p charts/flagman/crds
	cp $(CRD_SOURCE) charts/flagman/crds/crd.yaml

charts-lint: tools
	for chart in charts/*/; do helm lint --strict "$$chart" || exit 1; done

# checkov pins packaging<24 (pytest needs >=24), so it gets its own venv; tests/deploy/test_checkov.py uses it.
CHECKOV_VENV := .tools/checkov-venv
checkov: $(CHECKOV_VENV)/bin/checkov
$(CHECKOV_VENV)/bin/checkov:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q 'checkov>=3.2'

# Images: docker when an engine answers, else podman (scripts/images/engine.sh says which); without a
# registry the base is a Debian stand-in (base-image) and the load tester's tools come from local files.
.PHONY: base-image test-images lock lock-check
CONTROLLER_IMAGE := $(IMAGE_REGISTRY)/controller:$(IMAGE_TAG)
LOADTESTER_IMAGE := $(IMAGE_REGISTRY)/loadtester:$(IMAGE_TAG)

images:
	bash scripts/images/build.sh $(CONTROLLER_IMAGE) $(LOADTESTER_IMAGE)

base-image:
	source scripts/images/engine.sh && bash scripts/images/build-base-image.sh "$$ENGINE"

# start both images for real (uid 10001, read-only root, no capabilities), also as the sandbox's pods
# (`--pod-runtime podman`, emulator and real control plane); `make images` first
test-images: setup
	FLAGMAN_TEST_IMAGES=1 CONTROLLER_IMAGE=$(CONTROLLER_IMAGE) LOADTESTER_IMAGE=$(LOADTESTER_IMAGE) \
		$(PY) -m pytest tests/images -m images -v $(PYTEST_ARGS)

# the images' Python dependencies pinned with hashes (images/*/requirements.in -> requirements.txt)
UV_VERSION := 0.13.9
UV := .tools/uv-$(UV_VERSION)/bin/uv
$(UV):
	$(PYTHON) -m venv .tools/uv-$(UV_VERSION)
	.tools/uv-$(UV_VERSION)/bin/pip install -q 'uv==$(UV_VERSION)'
lock: $(UV)
	bash scripts/images/lock.sh $(UV)
lock-check: $(UV)
	bash scripts/images/lock.sh $(UV) --check

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

# Flagger's own controller, built from the Go module proxy as a test reference for `make compare` (never shipped).
.PHONY: flagger-reference compare
flagger-reference:
	bash scripts/build-flagger-reference.sh

# Flagger and Flagman side by side on the same API server: behaviour table and cost table (bench/compare).
COMPARE_ARGS ?=
compare: setup tools flagger-reference
	$(PY) -m bench.compare $(COMPARE_ARGS)
