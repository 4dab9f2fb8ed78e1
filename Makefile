# Every target installs what it needs into .venv first (pip takes torch 2.13.0's CPU wheel; see pyproject.toml).
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
DATA ?= ../shared/data
MODEL ?= model_cards/moderato-v10
HEADS ?= model_cards/moderato-v8

.PHONY: install run test test-fast browser train train-base train-stance eval calibrate bench lint

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# One command with torch pinned, so nothing resolves a newer (CUDA) torch.
	$(PY) -m pip install --quiet "torch==2.13.0" -e ".[dev,train]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/moderato serve

# The browser tests drive Debian's Chromium (never a downloaded one). Installed here when missing and apt-get can;
# otherwise those tests are skipped with a message (CI sets MODERATO_REQUIRE_BROWSER=1, where a skip is a failure).
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
		  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }; } || \
		echo "chromium could not be installed: the browser tests will be skipped"

test: install browser
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow and not model"

# Stages one and two train the encoder and the stance head (~65 min); stage three retunes the toxicity and span
# heads on the frozen encoder with the threat templates (~4 min; stance stays bit-identical). This made moderato-v4.
BASE ?= model_cards/moderato-v4
train-base: install
	$(BIN)/moderato train --data $(DATA) --out $(BASE)-base
	$(BIN)/moderato tune-heads --data $(DATA) --start $(BASE)-base --out $(BASE)
	$(BIN)/moderato calibrate --data $(DATA) --model $(BASE)

# moderato-v8 on moderato-v4's frozen encoder (stance_to_parent's adapters stay exact): the toxicity and span heads
# retuned with rater-agreement subtype targets and the insult templates (1,000 steps, ~12 min), the article stance
# head retuned with on-topic reactions and off-topic chatter (400 steps, ~30 min on one core), the two grafted
# together. moderato-v9: moderato-v8 with its severe-toxicity output retrained on clear severe abuse (~10 min),
# calibrated. moderato-v10, the shipped model: moderato-v9 with its article stance head retuned again with more
# chatter (~5 min where the CPU has bf16), its article prior, stance confidence and calibration chosen on dev (model
# cards; fp32, as the cards were read).
SEVERE ?= model_cards/moderato-v9
train: install
	$(BIN)/moderato tune-heads --data $(DATA) --start $(BASE) --out $(HEADS) --version moderato-v8 --steps 1000
	$(BIN)/moderato retune-stance-head --data $(DATA) --start $(BASE) --out $(HEADS)-stance-head --version moderato-v7 \
		--steps 400
	$(BIN)/moderato graft-stance-head --into $(HEADS) --source $(HEADS)-stance-head
	$(BIN)/moderato retune-severe --data $(DATA) --start $(HEADS) --out $(SEVERE) --version moderato-v9
	$(BIN)/moderato calibrate --data $(DATA) --model $(SEVERE)
	$(BIN)/moderato retune-stance-head --data $(DATA) --start $(BASE) --out $(MODEL)-stance-head \
		--version moderato-v10-stance-head --steps 400 --chatter-weight 0.15
	$(BIN)/moderato graft-stance-head --into $(SEVERE) --source $(MODEL)-stance-head --out $(MODEL) --version moderato-v10
	MODERATO_BF16=false $(BIN)/moderato choose-stance-prior --data $(DATA) --model $(MODEL)  # DEFAULT_UNRELATED_SHARE must match
	MODERATO_BF16=false $(BIN)/moderato calibrate-stance --data $(DATA) --model $(MODEL)
	MODERATO_BF16=false $(BIN)/moderato calibrate --data $(DATA) --model $(MODEL)

# The cross-encoded stance pass (replies toward their parent), on the shipped encoder: 2,800 steps (moderato-v5-stance,
# ~65 min), continued to 5,000 (moderato-v6-stance, ~45 min more), then per-class offsets chosen on dev. Resumable.
train-stance: install
	$(BIN)/moderato train-stance --data $(DATA) --encoder $(BASE) --out model_cards/moderato-v5-stance --steps 2800
	$(BIN)/moderato train-stance --data $(DATA) --encoder $(BASE) --out model_cards/moderato-v6-stance --steps 5000 \
		--continue-from model_cards/moderato-v5-stance
	$(BIN)/moderato evaluate-stance --data $(DATA) --model $(MODEL) --stance-model model_cards/moderato-v6-stance \
		--out model_cards/moderato-v6-stance/metrics.json --limit 1000 --tune

eval: install
	$(BIN)/moderato evaluate --data $(DATA) --model $(MODEL)

# Scores as the share of readers who would call a comment that: fitted on annotator proportions (~3 min).
calibrate: install
	$(BIN)/moderato calibrate --data $(DATA) --model $(MODEL)

bench: install
	$(PY) bench/model.py

lint: install
	$(BIN)/ruff check service tests bench
	$(BIN)/mypy service
