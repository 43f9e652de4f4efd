# Two entry points: `make app` installs and starts Velocitas; `make test` installs and runs
# every test. Both build a private virtual environment in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: app test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

app: $(STAMP)
	@bash scripts/system-deps.sh
	$(BIN)/velocitas

test: $(STAMP)
	@bash scripts/system-deps.sh
	$(BIN)/ruff check .
	@# pytest exits 5 when it collected no tests: that is a failure, not a pass. Three
	@# processes: most tests wait on a paced feed, a server or a window, so even two cores
	@# run the suite in about a third of the time.
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -n 3; code=$$?; \
	  if [ $$code -eq 5 ]; then echo "no tests ran: failing" >&2; exit 1; fi; exit $$code

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) build *.egg-info
