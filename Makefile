# Two entry points: `make app` installs and starts Velocitas; `make test` installs and runs
# every test. Both build a private virtual environment in .venv, and the browser view (web/)
# into the package when its build is missing or older than its sources.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB := web
# what `npm run build` writes (vite.config.ts: outDir), and what it is built from
WEB_BUILD := velocitas_desktop/webview/dist/index.html
WEB_SOURCES := $(WEB)/package.json $(WEB)/package-lock.json $(WEB)/index.html \
	$(WEB)/vite.config.ts $(WEB)/tsconfig.json \
	$(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null)
# npm ci writes this file last: older than the lock file means the modules are stale
WEB_MODULES := $(WEB)/node_modules/.package-lock.json
# npm with a Node that can build the view first on PATH: the system's, or one scripts/node.sh
# fetches into .venv/node when the system's is older than 20.19 (Debian 12's is 18)
NPM := node_bin=$$(bash scripts/node.sh) && PATH="$$node_bin:$$PATH" npm

# The desktop bundle (packaging/): `make bundle` builds it with PyInstaller into build/bundle
# (git ignores build/), `make bundle-smoke` runs the built bundle as a user would
# (tests/bundle), building it first when it is missing or older than its sources.
BUNDLE := build/bundle
BUNDLE_STAMP := $(VENV)/.bundle-installed
BUNDLE_SOURCES := pyproject.toml $(shell find velocitas_desktop strategies resources packaging \
	-type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: app test web lint bench clean bundle bundle-smoke bundle-bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

$(WEB_MODULES): $(WEB)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: run scripts/system-deps.sh" \
	  "as root, or install Node 20.19+ and npm" >&2; exit 1; }
	$(NPM) --prefix $(WEB) ci --no-audit --no-fund
	touch $@

$(WEB_BUILD): $(WEB_MODULES) $(WEB_SOURCES)
	$(NPM) --prefix $(WEB) run build
	touch $@

web: $(WEB_BUILD)

app: $(STAMP)
	@bash scripts/system-deps.sh
	@$(MAKE) --no-print-directory web
	$(BIN)/velocitas

test: $(STAMP)
	@bash scripts/system-deps.sh --test
	@$(MAKE) --no-print-directory web
	$(BIN)/ruff check .
	$(NPM) --prefix $(WEB) test
	@# pytest exits 5 when it collected no tests: that is a failure, not a pass. Three
	@# processes: most tests wait on a paced feed, a server or a window, so even two cores
	@# run the suite in about a third of the time. The browser tests (tests/web) run in it.
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -n 3; code=$$?; \
	  if [ $$code -eq 5 ]; then echo "no tests ran: failing" >&2; exit 1; fi; exit $$code

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py

$(BUNDLE_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[bundle]'
	touch $@

$(BUNDLE)/dist/velocitas/velocitas: $(BUNDLE_STAMP) $(WEB_BUILD) $(BUNDLE_SOURCES)
	@bash scripts/system-deps.sh
	$(BIN)/python packaging/build.py --out $(BUNDLE)
	touch $@

bundle: $(BUNDLE_STAMP)
	@bash scripts/system-deps.sh
	@$(MAKE) --no-print-directory web
	$(BIN)/python packaging/build.py --out $(BUNDLE)

bundle-smoke: $(STAMP)
	@$(MAKE) --no-print-directory web
	@$(MAKE) --no-print-directory $(BUNDLE)/dist/velocitas/velocitas
	@# the newest archive, unpacked by the tests outside the source tree
	archive=$$(ls -t $(BUNDLE)/velocitas-*.tar.gz 2>/dev/null | head -n 1); \
	  if [ -z "$$archive" ]; then echo "no bundle archive in $(BUNDLE)" >&2; exit 1; fi; \
	  QT_QPA_PLATFORM=offscreen VELOCITAS_BUNDLE="$$archive" $(BIN)/python -m pytest -q \
	    -rs tests/bundle; code=$$?; \
	  if [ $$code -eq 5 ]; then echo "no bundle tests ran: failing" >&2; exit 1; fi; exit $$code

bundle-bench: $(BUNDLE_STAMP)
	@$(MAKE) --no-print-directory web
	$(BIN)/python bench/bundle.py

clean:
	rm -rf $(VENV) build *.egg-info velocitas_desktop/webview/dist
