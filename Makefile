# briefbot: `make run` starts the bot, `make test` runs every check. Both build .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

# The runtime install, and the test tools on top of it; each redone when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/briefbot run

test: $(VENV)/.installed-test
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
	$(BIN)/python bench/discord_load.py
	$(BIN)/python bench/broadcast.py
	$(BIN)/python bench/redaction.py --skip-before
	$(BIN)/python bench/article_cap.py
	$(BIN)/python bench/feeds.py
	$(BIN)/python bench/markdown_speed.py
	$(BIN)/python bench/sentence_split.py

clean:
	rm -rf $(VENV) build src/*.egg-info
