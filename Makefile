# camscan: `make demo` sweeps the emulated device lab; `make test` runs lint, types and tests.
# Both create .venv and install everything needed (system packages too, when root).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: all demo test lint typecheck unit sysdeps schema clean fuzz bench bench-startup bench-pcap bench-inventory oui accuracy docs new-probe

all: test

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# System packages the lab and tests use (iproute2 for namespaces). Installed when missing
# and running as root; otherwise the tests that need them say why they skip.
sysdeps:
	@bash scripts/sysdeps.sh

lint: $(STAMP)
	$(BIN)/ruff check camscan tests bench
	$(BIN)/mypy

test: $(STAMP) sysdeps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

demo: $(STAMP) sysdeps
	$(BIN)/python -m tests.lab.demo

# Long property-based fuzz run of every device-reply parser (the short run is part of
# `make test`); CAMSCAN_FUZZ_EXAMPLES inputs per property; prints how many inputs were tried.
fuzz: $(STAMP)
	CAMSCAN_FUZZ_EXAMPLES=$${CAMSCAN_FUZZ_EXAMPLES:-2000} $(BIN)/python -m pytest tests/fuzz -q -p no:cacheprovider

# Start-up first (no root, no nmap: `camscan --help` and a one-address sweep of a closed
# loopback port, median/p90 against their targets), then listen-only throughput (bench-pcap:
# `camscan pcap` of a synthetic 1 GB capture, MB/s and peak RSS), then speed at scale side by side with
# nmap -sV (root: builds namespace topologies; installs nmap). Prints the tables and writes
# bench/results/latest.json. See docs/performance.md.
bench: bench-startup bench-pcap bench-inventory
	@bash scripts/sysdeps.sh bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-startup: $(STAMP)
	$(BIN)/python -m bench.startup $(STARTUP_ARGS)

# Listen-only throughput: `camscan pcap` on a synthetic mixed capture (the lab capture repeated
# with rewritten addresses) of CAMSCAN_BENCH_PCAP_MB megabytes (default 1024); MB/s and peak RSS.
bench-pcap: $(STAMP)
	$(BIN)/python -m bench.pcap $(PCAP_ARGS)

# The central inventory (issue 16): 8 sensors at once vs one alone, and the worklist over
# 100,000 assets and 1,000 sweeps from each backend. The PostgreSQL part needs root (a
# throwaway cluster, tests/pg.py; sysdeps installs postgresql); it says why when it cannot.
bench-inventory: $(STAMP) sysdeps
	$(BIN)/python -m bench.inventory $(INVENTORY_BENCH_ARGS)

# Identification accuracy on the corpus of real banners (tests/corpus/*.jsonl): recall per
# maker, the review net, false-banned counts (exit 1 if any). See docs/fingerprints.md.
accuracy: $(STAMP)
	$(BIN)/python -m bench.accuracy

schema: $(STAMP)
	$(BIN)/python -m camscan.schema

# Scaffold a probe: module, registry line, capture folder, unit and fuzz test (docs/probes.md).
new-probe: $(STAMP)
	@test -n "$(NAME)" -a -n "$(PORT)" || { echo "usage: make new-probe NAME=foo PORT=1234"; exit 2; }
	$(BIN)/python scripts/new_probe.py $(NAME) --port $(PORT)

# docs/observations.md from the probe registry (camscan/probes/registry.py); a test checks it.
docs: $(STAMP)
	$(BIN)/python -m camscan.probes.docs

# Rebuild the shipped OUI table (camscan/data/oui.tsv.gz) from Wireshark's manuf file.
oui: $(STAMP)
	$(BIN)/python scripts/update_oui.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache demo-out
