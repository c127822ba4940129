# Sereno: `make run` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint format bench bench-map bench-sms bench-fanout bench-detect clean messages vendor

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Browser libraries (Leaflet, htmx) from the npm registry, pinned and integrity-checked by
# package-lock.json; no Node.js needed (see sereno/lib/vendor.py).
VENDOR_STAMP := sereno/static_vendor/.installed
$(VENDOR_STAMP): package.json package-lock.json sereno/lib/vendor.py
	$(PYTHON) -m sereno.lib.vendor
	touch $(VENDOR_STAMP)

vendor: $(VENDOR_STAMP)

messages: $(STAMP)
	$(BIN)/python -m sereno.lib.i18n compile

setup: $(STAMP) $(VENDOR_STAMP) messages
	$(BIN)/sereno migrate

run: setup
	$(BIN)/sereno run --host $(HOST) --port $(PORT)

test: $(STAMP) $(VENDOR_STAMP) messages
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check sereno tests bench
	$(BIN)/ruff format --check sereno tests bench

format: $(STAMP)
	$(BIN)/ruff format sereno tests bench
	$(BIN)/ruff check --fix sereno tests bench

# wrk (Debian package) generates the load with little CPU; without it bench/loadgen.py does.
bench: setup
	@command -v wrk >/dev/null || apt-get install -y --no-install-recommends wrk >/dev/null 2>&1 \
	  || sudo -n apt-get install -y --no-install-recommends wrk >/dev/null 2>&1 || true
	$(BIN)/python bench/intake.py

# Map aggregation on 1,000,000 demo reports, SQLite and PostgreSQL (loads them the first time).
bench-map: setup
	$(BIN)/python bench/map.py

# Space-time permutation scan: 100,000 synthetic reports, 999 replicates, both cores; then the
# straightforward implementation side by side on 2,000 reports.
bench-detect: setup
	$(BIN)/python bench/detect.py

# SMS through a real Kannel (apt-get install kannel kannel-extras), next to Kannel's own ceiling.
bench-sms: setup
	$(BIN)/python bench/sms.py

# Alert fan-out to 1,000,000 subscribers on PostgreSQL (loads them the first time).
bench-fanout: setup
	$(BIN)/python bench/fanout.py

clean:
	rm -rf $(VENV) var sereno/static_vendor
