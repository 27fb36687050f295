# clowdr: `make demo` and `make test` do all the set-up they need on a fresh machine.
#
#   make demo    install what is missing, build, run an example experiment, check it, write its report, print where
#   make test    install what is missing, build, lint, run the whole test suite
#   make bench   release build and the benchmarks (figures printed beside the peer or limit of the same run)
#   make dist    out/dist/clowdr-VERSION-linux-x86_64.tar.gz: runs on any x86-64 Linux (docs/slurm.md, installing), with
#                shell completions and the manual page under share/
#   make docs    the libraries' documentation (DocC): out/docs/clowdr.doccarchive, a static site (docs/library.md)
#   make fuzz    libFuzzer over the Boutiques parsers (FUZZ_SECONDS, default 600)
#   make lint    swift format lint --strict

SWIFT      ?= swift
BUILD_DIR  ?= .build
CLOWDR      = $(BUILD_DIR)/debug/clowdr
DEMO_DIR   ?= out/demo

# Release builds link Swift's runtime and Foundation into the binary: clowdr then starts in about 15 ms instead of
# 23 (no thirty libraries to load and relocate), which every worker on a cluster node pays (docs/slurm.md).
# CLOWDR_STATIC=1 says so to Package.swift, which then links `clowdr` position-dependent (it says why).
RELEASE    = -c release --static-swift-stdlib

BOSH_VENV  ?= .build-bosh
REPROZIP_VENV ?= .build-reprozip
FUZZ_SECONDS ?= 600

.PHONY: all deps test-deps rocrate-tools swift-check version build test lint format schema demo bench dist docs fuzz containers slurm moto registry clean

all: build

# What a machine must have before any of this: Debian or Ubuntu (apt), and Swift 6.1 or newer on PATH. Everything
# else is installed here when missing, as root or through sudo; apt-get update runs only if something is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing ($(2))"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

swift-check:
	@mkdir -p $(BUILD_TMP); v=$$(TMPDIR=$(BUILD_TMP) $(SWIFT) --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p' | head -1); \
	set -- $$v; if [ -z "$$v" ] || [ "$$1" -lt 6 ] || { [ "$$1" = 6 ] && [ "$$2" -lt 1 ]; }; then \
	  echo "clowdr needs Swift 6.1 or newer on PATH (found: $${v:-none}); install it from swift.org, then run make again" >&2; exit 2; fi

# Building, the demo and `make dist` need only the headers of the system libraries clowdr links or loads.
BUILD_PACKAGES = libsqlite3-dev libssl-dev zlib1g-dev libcurl4-openssl-dev
BUILD_WHY = headers of SQLite, OpenSSL, zlib and libcurl: what clowdr is built against
deps: swift-check
	$(call apt_install,$(BUILD_PACKAGES),$(BUILD_WHY))

# The tests and benchmarks need more: sqlite3 (its shell), GNU parallel and time (the peers the tests and benchmarks
# compare with), Chromium (the report's browser tests), python3-venv; and Python tools that go into a virtual
# environment of the project's ($(VENV)), never into the system's Python (Debian marks it externally managed):
# jsonschema (checks schema/ with JSON Schema's own validator), prov (the W3C PROV package that checks the export) and
# python-dateutil (scripts/provn_roundtrip.py reads PROV-N times with it).
TEST_PACKAGES = sqlite3 python3 python3-venv parallel chromium time
TEST_WHY = what the tests and benchmarks use besides clowdr: peers to compare with, a browser, Python's venv
VENV ?= .build-venv
PYTHON_TOOLS = 'jsonschema>=4.18' 'prov>=2.0' python-dateutil
# The RO-Crate checkers (ROCrateTests, the demo's crate): roc-validator, runcrate and ro-crate-py, what WorkflowHub's
# community validates and reads crates with; and the BIDS validator for derivatives. A venv of their own ($(ROCRATE_VENV),
# about 270 MB): their pins differ from the checkers above.
ROCRATE_VENV ?= .build-rocrate
ROCRATE_TOOLS = roc-validator==0.13.0 runcrate==0.6.2 rocrate==0.16.0 bids-validator-deno==3.0.2
test-deps: deps
	$(call apt_install,$(TEST_PACKAGES),$(TEST_WHY))
	@[ -x $(VENV)/bin/python ] && $(VENV)/bin/python -c 'import jsonschema, prov, dateutil' 2>/dev/null || { \
	  echo "installing jsonschema and prov into $(VENV) (pip, in the project's own virtual environment: the tests' checkers)"; \
	  python3 -m venv $(VENV) && $(VENV)/bin/pip install -q $(PYTHON_TOOLS); }
	@$(MAKE) --no-print-directory rocrate-tools

rocrate-tools:
	$(call apt_install,python3 python3-venv,Python and its venv: the crate and derivatives checkers run in one)
	@[ -x $(ROCRATE_VENV)/bin/python ] && $(ROCRATE_VENV)/bin/python -c 'import rocrate_validator, runcrate, rocrate' 2>/dev/null \
	  && [ -x $(ROCRATE_VENV)/bin/bids-validator-deno ] || { \
	  echo "installing roc-validator, runcrate, rocrate and bids-validator-deno from PyPI into $(ROCRATE_VENV) (the crate and derivatives checkers)"; \
	  python3 -m venv $(ROCRATE_VENV) && $(ROCRATE_VENV)/bin/pip install -q $(ROCRATE_TOOLS); }

# The Swift tools leave empty TemporaryDirectory.* folders in TMPDIR: theirs go under .build/tmp, not /tmp.
BUILD_TMP = $(CURDIR)/$(BUILD_DIR)/tmp

# The version the binaries carry: the release tag, or the commit (scripts/version.sh), rewritten only when it changes.
version:
	@scripts/version.sh --write

build: deps version
	@mkdir -p $(BUILD_TMP)
	TMPDIR=$(BUILD_TMP) $(SWIFT) build --build-tests

lint:
	@mkdir -p $(BUILD_TMP)
	TMPDIR=$(BUILD_TMP) $(SWIFT) format lint --strict --recursive Sources Tests Benchmarks examples Package.swift

format:
	@mkdir -p $(BUILD_TMP)
	TMPDIR=$(BUILD_TMP) $(SWIFT) format format --in-place --recursive Sources Tests Benchmarks examples Package.swift

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

test: build test-deps lint docs containers slurm moto registry
	@tmp=$$(mktemp -d /tmp/clowdr-test.XXXXXX) && chmod 755 "$$tmp" && \
	  TMPDIR="$$tmp" $(SWIFT) test --skip-build; status=$$?; rm -rf "$$tmp"; scripts/slurm/teardown.sh >/dev/null; \
	  scripts/moto/teardown.sh >/dev/null; MOTO_STATE=/tmp/clowdr-moto-podman scripts/moto/teardown.sh >/dev/null; \
	  scripts/registry/teardown.sh >/dev/null; exit $$status

demo: build rocrate-tools
	@ROCRATE_VENV=$(ROCRATE_VENV) scripts/demo.sh $(CLOWDR) $(DEMO_DIR)

bench: test-deps version
	@mkdir -p $(BUILD_TMP)
	CLOWDR_STATIC=1 TMPDIR=$(BUILD_TMP) $(SWIFT) build $(RELEASE)
	$(BUILD_DIR)/release/clowdr-bench eventlog
	@[ -x $(BOSH_VENV)/bin/bosh ] || { python3 -m venv $(BOSH_VENV) && $(BOSH_VENV)/bin/pip install -q boutiques==0.5.33; } \
	  || echo "bosh could not be installed: the Boutiques benchmark runs without its peer figure"
	$(BUILD_DIR)/release/clowdr-bench boutiques --bosh $(BOSH_VENV)/bin/bosh
	$(BUILD_DIR)/release/clowdr-bench run
	$(BUILD_DIR)/release/clowdr-bench worker
	@[ -x $(REPROZIP_VENV)/bin/reprozip ] || { python3 -m venv $(REPROZIP_VENV) && $(REPROZIP_VENV)/bin/pip install -q reprozip==1.3.2; } \
	  || echo "reprozip could not be installed: the tracing benchmark runs without its figure"
	$(BUILD_DIR)/release/clowdr-bench trace $$([ -x $(REPROZIP_VENV)/bin/reprozip ] && echo --reprozip $(REPROZIP_VENV)/bin/reprozip)
	$(BUILD_DIR)/release/clowdr-bench query
	$(BUILD_DIR)/release/clowdr-bench report
	$(BUILD_DIR)/release/clowdr-bench rocrate
	$(BUILD_DIR)/release/clowdr-bench share
	$(BUILD_DIR)/release/clowdr-bench ingest
	@scripts/moto/setup.sh >/dev/null && $(BUILD_DIR)/release/clowdr-bench aws; status=$$?; scripts/moto/teardown.sh >/dev/null; [ $$status = 0 ]
	@# MaxArraySize 1001, Slurm's default: 10,000 tasks go as 10 arrays, as on most clusters (the tests' cluster: 10001).
	@SLURM_MAX_ARRAY=1001 scripts/slurm/setup.sh >/dev/null && $(BUILD_DIR)/release/clowdr-bench slurm; status=$$?; scripts/slurm/teardown.sh >/dev/null; exit $$status

# clowdr with its own loader and libraries, for clusters whose nodes run another Linux (scripts/dist/make-dist.sh).
dist: deps version
	@mkdir -p $(BUILD_TMP)
	CLOWDR_STATIC=1 TMPDIR=$(BUILD_TMP) $(SWIFT) build $(RELEASE) --product clowdr
	CLOWDR_STATIC=1 TMPDIR=$(BUILD_TMP) $(SWIFT) build $(RELEASE) --product clowdr-shim
	CLOWDR_STATIC=1 TMPDIR=$(BUILD_TMP) $(SWIFT) build $(RELEASE) --product clowdr-share
	@# The manual page, by argument-parser's generate-manual plugin (it builds clowdr's debug product to read its help).
	TMPDIR=$(BUILD_TMP) $(SWIFT) package --allow-writing-to-package-directory generate-manual --configuration debug >/dev/null
	@CLOWDR_MANUAL=$(BUILD_DIR)/plugins/GenerateManual/outputs/clowdr/clowdr.1 scripts/dist/make-dist.sh $(BUILD_DIR)/release out/dist

# The symbol graphs come from a build of their own (.build-docs: its flags would make .build rebuild everything); the
# package's test modules have none, which dump-symbol-graph reports as a failure: the libraries' graphs are checked.
DOCS_GRAPHS = .build-docs/$(shell uname -m)-unknown-linux-gnu/symbolgraph
docs: deps version
	@mkdir -p $(BUILD_TMP) && rm -rf $(DOCS_GRAPHS)
	@TMPDIR=$(BUILD_TMP) $(SWIFT) package --scratch-path .build-docs dump-symbol-graph --minimum-access-level public \
	  >$(BUILD_TMP)/symbol-graphs.log 2>&1 || [ -f $(DOCS_GRAPHS)/Backends.symbols.json ] \
	  || { cat $(BUILD_TMP)/symbol-graphs.log; exit 1; }
	@TMPDIR=$(BUILD_TMP) scripts/docs.sh $(DOCS_GRAPHS) out/docs

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR) out
