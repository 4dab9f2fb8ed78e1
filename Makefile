# Every target installs what it needs into .venv first (pip takes torch 2.13.0's CPU wheel; see pyproject.toml).
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DATA ?= ../shared/data
MODEL ?= model_cards/moderato-v4

.PHONY: install run test test-fast train train-stance eval bench lint

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# One command with torch pinned, so nothing resolves a newer (CUDA) torch.
	$(PY) -m pip install --quiet "torch==2.13.0" -e ".[dev,train]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/moderato serve

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow and not model"

# Stages one and two train the encoder and the stance head (~65 min); stage three retunes the toxicity and span
# heads on the frozen encoder with the threat templates (~4 min; stance stays bit-identical).
train: install
	$(BIN)/moderato train --data $(DATA) --out $(MODEL)-base
	$(BIN)/moderato tune-heads --data $(DATA) --start $(MODEL)-base --out $(MODEL)

# The cross-encoded stance pass (replies toward their parent), on the shipped encoder (~65 min; resumable).
train-stance: install
	$(BIN)/moderato train-stance --data $(DATA) --encoder $(MODEL) --out model_cards/moderato-v5-stance --steps 2800

eval: install
	$(BIN)/moderato evaluate --data $(DATA) --model $(MODEL)

bench: install
	$(PY) bench/model.py

lint: install
	$(BIN)/ruff check service tests bench
	$(BIN)/mypy service
