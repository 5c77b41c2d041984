# The two commands a new user runs: `make demo` and `make test`.
# Both create .venv on first use and install what is missing into it.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
# Test processes: most tests wait on real processes (validators, gateways, PostgreSQL,
# Chromium), so two workers keep two cores busy; each worker takes whole files, which keeps a
# module's fixtures to one worker.
TEST_WORKERS ?= 2

.PHONY: demo test lint typecheck pytest clean postgres-server c-compiler browser ocr

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "bakong needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A C compiler and Python's headers build the compiled transfer lane (src/bakong/ledger/_lane.c);
# without them the install still succeeds and the general path runs (slower), as the line says.
# The extension is optional, so a failed build is only a warning inside pip: the old binary is
# removed first, and where a compiler is present a missing lane stops here (and fails
# tests/ledger/test_lane_build.py).
$(STAMP): pyproject.toml src/bakong/ledger/_lane.c | $(BIN)/python c-compiler
	rm -f src/bakong/ledger/_lane.*.so
	$(BIN)/python -m pip install --quiet -e '.[test,bench,kyc]'
	@$(BIN)/python -c 'import pathlib, shutil, sys, sysconfig; \
		from bakong.ledger.transfer_lane import native_execute_transactions as lane; \
		headers = pathlib.Path(sysconfig.get_paths()["include"], "Python.h"); \
		compiler = bool(shutil.which("cc")) and headers.exists(); \
		print("compiled transfer lane:", "built" if lane else "NOT built: " + ( \
			"the C build FAILED (pip install -v -e . shows why)" if compiler else \
			"no C compiler, the general path runs")); \
		sys.exit(compiler and lane is None)'
	@touch $(STAMP)

c-compiler: | $(BIN)/python
	@{ command -v cc >/dev/null && $(BIN)/python -c 'import os, sys, sysconfig; \
		sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; } || \
		[ "$$(id -u)" != 0 ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq gcc libc6-dev python3-dev; } || \
		echo "could not install a C compiler: the general path will run"

demo: $(STAMP) ocr
	$(BIN)/bakong demo

# The official KHQR SDK, for the differential test of bakong.khqr (test-only, gitignored).
KHQR_SDK := .cache/khqr-sdk
$(KHQR_SDK)/node_modules/bakong-khqr/package.json:
	@command -v npm >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	npm install --prefix $(KHQR_SDK) --no-audit --no-fund --loglevel=error bakong-khqr@1.0.20

# PostgreSQL server binaries, for the central-database baseline of `bakong bench network`
# (the benchmark and its test start a throwaway server of their own). No main cluster: the
# Debian package would otherwise create and start one on port 5432 that nothing here uses.
postgres-server:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		[ "$$(id -u)" != 0 ] || { \
		mkdir -p /etc/postgresql-common/createcluster.d && \
		echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/bakong.conf && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

# axe-core, the accessibility engine the browser tests inject into each page (test-only).
AXE := .cache/axe-core
$(AXE)/node_modules/axe-core/axe.min.js:
	@command -v npm >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	npm install --prefix $(AXE) --no-audit --no-fund --loglevel=error axe-core@4.11.0

# Debian's Chromium and a Khmer font for the pages' browser tests (Playwright drives
# /usr/bin/chromium; its own browser download is not used).
browser:
	@{ command -v chromium >/dev/null && fc-list | grep -qi khmer; } || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends chromium fonts-khmeros fontconfig; }

# Tesseract with its Khmer and English models, for the gateway's ID card reading (bakong.gateway.kyc),
# and the OCR-B font the KYC tests print a card's machine-readable zone in. A gateway without
# Tesseract still runs: every ID check then goes to an officer.
ocr:
	@{ command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx khm && \
		fc-list | grep -qi 'OCR B'; } || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-khm fonts-ocr-b; }

test: $(STAMP) $(KHQR_SDK)/node_modules/bakong-khqr/package.json $(AXE)/node_modules/axe-core/axe.min.js postgres-server browser ocr
	$(BIN)/ruff check src tests tools
	$(BIN)/mypy src tools
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis src/bakong/ledger/*.so
