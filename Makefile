# clowdr: `make demo` and `make test` do all the set-up they need on a fresh machine.
#
#   make demo    install what is missing, build, run an example experiment, check it, write its report, print where
#   make test    install what is missing, build, lint, run the whole test suite
#   make bench   release build and the benchmarks (figures printed beside the peer or limit of the same run)
#   make dist    out/dist/clowdr-VERSION-linux-x86_64.tar.gz: runs on any x86-64 Linux (docs/slurm.md, installing)
#   make fuzz    libFuzzer over the Boutiques parsers (FUZZ_SECONDS, default 600)
#   make lint    swift format lint --strict

SWIFT      ?= swift
BUILD_DIR  ?= .build
CLOWDR      = $(BUILD_DIR)/debug/clowdr
DEMO_DIR   ?= out/demo

# Release builds link Swift's runtime and Foundation into the binary: clowdr then starts in about 15 ms instead of
# 23 (no thirty libraries to load and relocate), which every worker on a cluster node pays (docs/slurm.md).
RELEASE    = -c release --static-swift-stdlib

BOSH_VENV  ?= .build-bosh
FUZZ_SECONDS ?= 600

.PHONY: all deps build test lint format schema demo bench dist fuzz containers slurm moto registry clean

all: build

# System packages, installed only when missing. Debian's names; apt-get update runs only if something is missing.
# chromium: the report's browser tests (headless, driven by scripts/browser/check-page.py).
# time: GNU time, the peer the peak-memory tests compare against (/usr/bin/time -v).
APT_PACKAGES = libsqlite3-dev sqlite3 libssl-dev zlib1g-dev libcurl4-openssl-dev python3 python3-pip parallel chromium time
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (build headers; GNU parallel and time, the peers tests and benchmarks compare with; Chromium for the report tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@python3 -c 'import jsonschema' 2>/dev/null || { echo "installing jsonschema (pip: checks schema/ against JSON Schema's own validator)"; python3 -m pip install -q 'jsonschema>=4.18'; }
	@python3 -c 'import prov' 2>/dev/null || { echo "installing prov (pip: the W3C PROV package that checks the PROV export)"; python3 -m pip install -q 'prov>=2.0'; }

# The Swift tools leave empty TemporaryDirectory.* folders in TMPDIR: theirs go under .build/tmp, not /tmp.
BUILD_TMP = $(CURDIR)/$(BUILD_DIR)/tmp

build: deps
	@mkdir -p $(BUILD_TMP)
	TMPDIR=$(BUILD_TMP) $(SWIFT) build --build-tests

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Benchmarks Package.swift

format:
	$(SWIFT) format format --in-place --recursive Sources Tests Benchmarks Package.swift

# Regenerates the embedded copy of schema/sql/*.sql (a test fails when it is stale).
schema:
	scripts/embed-schema.sh

# podman and a 2 MB busybox image for the container tests (installed when missing; the tests say so if absent).
containers:
	@scripts/containers/make-test-image.sh >/dev/null || echo "podman is unavailable: the container tests will be skipped"

# A real one-node Slurm (slurm-wlm, munge, slurmdbd on MariaDB) for the Slurm backend's tests: installed when
# missing, started once per run, stopped by PID file after the tests whatever their outcome.
slurm:
	@scripts/slurm/setup.sh >/dev/null || echo "Slurm could not be started: the Slurm tests will be skipped"

# moto's server on 127.0.0.1, the AWS stand-in for the AWS client's tests (pip: moto 5.2.5 into .build-moto once),
# started once per run with signature checking on, stopped by PID file after the tests whatever their outcome.
# A second one runs Batch jobs as real containers through podman (port 5125), for the AWS Batch backend's tests.
moto:
	@scripts/moto/setup.sh >/dev/null || echo "moto could not be started: the AWS tests against it will be skipped"
	@MOTO_BATCH=podman MOTO_PORT=5125 MOTO_STATE=/tmp/clowdr-moto-podman scripts/moto/setup.sh >/dev/null \
	  || echo "moto with podman could not be started: the AWS Batch tests will be skipped"

# The tests' temporary folders go under one folder of this run, removed afterwards whatever the outcome
# (readable by others: a test runs commands as nobody).
# Debian's docker-registry on 127.0.0.1, for the test that pushes the image `clowdr cloud image` builds.
registry:
	@scripts/registry/setup.sh >/dev/null || echo "the registry could not be started: the image push test will be skipped"

test: build lint containers slurm moto registry
	@tmp=$$(mktemp -d /tmp/clowdr-test.XXXXXX) && chmod 755 "$$tmp" && \
	  TMPDIR="$$tmp" $(SWIFT) test --skip-build; status=$$?; rm -rf "$$tmp"; scripts/slurm/teardown.sh >/dev/null; \
	  scripts/moto/teardown.sh >/dev/null; MOTO_STATE=/tmp/clowdr-moto-podman scripts/moto/teardown.sh >/dev/null; \
	  scripts/registry/teardown.sh >/dev/null; exit $$status

demo: build
	@scripts/demo.sh $(CLOWDR) $(DEMO_DIR)

bench: deps
	@mkdir -p $(BUILD_TMP)
	TMPDIR=$(BUILD_TMP) $(SWIFT) build $(RELEASE)
	$(BUILD_DIR)/release/clowdr-bench eventlog
	@[ -x $(BOSH_VENV)/bin/bosh ] || { python3 -m venv $(BOSH_VENV) && $(BOSH_VENV)/bin/pip install -q boutiques==0.5.33; } \
	  || echo "bosh could not be installed: the Boutiques benchmark runs without its peer figure"
	$(BUILD_DIR)/release/clowdr-bench boutiques --bosh $(BOSH_VENV)/bin/bosh
	$(BUILD_DIR)/release/clowdr-bench run
	$(BUILD_DIR)/release/clowdr-bench query
	$(BUILD_DIR)/release/clowdr-bench report
	$(BUILD_DIR)/release/clowdr-bench ingest
	@scripts/moto/setup.sh >/dev/null && $(BUILD_DIR)/release/clowdr-bench aws; status=$$?; scripts/moto/teardown.sh >/dev/null; [ $$status = 0 ]
	@# MaxArraySize 1001, Slurm's default: 10,000 tasks go as 10 arrays, as on most clusters (the tests' cluster: 10001).
	@SLURM_MAX_ARRAY=1001 scripts/slurm/setup.sh >/dev/null && $(BUILD_DIR)/release/clowdr-bench slurm; status=$$?; scripts/slurm/teardown.sh >/dev/null; exit $$status

# clowdr with its own loader and libraries, for clusters whose nodes run another Linux (scripts/dist/make-dist.sh).
dist: deps
	@mkdir -p $(BUILD_TMP)
	TMPDIR=$(BUILD_TMP) $(SWIFT) build $(RELEASE) --product clowdr
	TMPDIR=$(BUILD_TMP) $(SWIFT) build $(RELEASE) --product clowdr-shim
	@scripts/dist/make-dist.sh $(BUILD_DIR)/release out/dist

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR) out
