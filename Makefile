# briefbot: `make run` starts the bot, `make test` runs every check. Both build .venv on first use.
PYTHON ?= python3
# Optional extras for `make run`, e.g. EXTRAS=embeddings (Q&A sentence embeddings, +200 MB).
EXTRAS ?=
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

# Python 3.11+ with its venv module, and a .venv made by such a Python: checked before every
# use, so a .venv left by an older Python (or another PYTHON=) is never silently reused.
NEW_ENOUGH := import sys; sys.exit(sys.version_info < (3, 11))
MINOR      := import sys; print("%d.%d" % sys.version_info[:2])

.PHONY: python-check
python-check:
	@$(PYTHON) -c '$(NEW_ENOUGH)' 2>/dev/null || { \
	  echo "make: $(PYTHON) is not Python 3.11 or newer ($$($(PYTHON) --version 2>&1 || echo 'not found')); name one: make test PYTHON=python3.11" >&2; exit 2; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "make: $(PYTHON) has no venv module; install it (Debian/Ubuntu: sudo apt-get install python3-venv), or name another Python with PYTHON=" >&2; exit 2; }
	@if test -e $(BIN)/python && ! $(BIN)/python -c '$(NEW_ENOUGH)' 2>/dev/null; then \
	  echo "make: $(VENV) was made by an older Python ($$($(BIN)/python --version 2>&1)); run: make clean, then make again" >&2; exit 2; fi
ifeq ($(origin PYTHON),command line)
	@if test -e $(BIN)/python && test "$$($(BIN)/python -c '$(MINOR)')" != "$$($(PYTHON) -c '$(MINOR)')"; then \
	  echo "make: $(VENV) was made by Python $$($(BIN)/python -c '$(MINOR)'), not by PYTHON=$(PYTHON); run: make clean && make test PYTHON=$(PYTHON)" >&2; exit 2; fi
endif

# The runtime install, and the test tools on top of it; each redone when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | python-check
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed-run | python-check
	$(if $(EXTRAS),$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]')
	$(BIN)/briefbot run

test: $(VENV)/.installed-test | python-check
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/qa_eval.py
	$(BIN)/python bench/qa_speed.py
	$(BIN)/python bench/telegram_load.py
	$(BIN)/python bench/telegram_stop.py
	$(BIN)/python bench/discord_load.py
	$(BIN)/python bench/broadcast.py
	$(BIN)/python bench/redaction.py --skip-before
	$(BIN)/python bench/article_cap.py
	$(BIN)/python bench/feeds.py
	$(BIN)/python bench/markdown_speed.py
	$(BIN)/python bench/sentence_split.py

clean:
	rm -rf $(VENV) build src/*.egg-info
