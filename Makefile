# Two commands do all the set-up: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
WHEELS := $(VENV)/wheels
LLAMA_VERSION := 0.3.36
# Reinstall whenever the dependency list changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml 2>/dev/null | md5sum | cut -c1-12)
SHARED ?= ../shared/data
LAWS ?= $(SHARED)/laws/ChLaw.json
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install demo test lint eval bench clean

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools

$(STAMP): pyproject.toml | $(PY)
	# torch first, exactly this version, or a dependency pulls a CUDA build.
	$(PIP) install -q torch==2.13.0
	# llama-cpp-python compiles for minutes: build its wheel once and keep it in the venv.
	@if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "building llama-cpp-python $(LLAMA_VERSION) (once, a few minutes)"; \
		$(PIP) wheel -q --no-deps -w $(WHEELS) llama-cpp-python==$(LLAMA_VERSION); fi
	$(PIP) install -q --find-links $(WHEELS) -e '.[llm,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Ingests the laws (incremental: seconds when nothing changed), then opens an interactive search.
demo: install
	$(VENV)/bin/assistant ingest laws $(LAWS)
	$(VENV)/bin/assistant search "銀行對疑似不法的存款帳戶可以怎麼處理？" -k 3
	$(VENV)/bin/assistant search

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q --durations=5

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

eval: install
	$(VENV)/bin/assistant ingest laws $(SHARED)/laws/ChLaw.json
	$(VENV)/bin/assistant ingest laws $(SHARED)/laws/EngLaw.json
	$(VENV)/bin/assistant eval retrieval $(SHARED)/eval/regulation_dev.jsonl
	$(VENV)/bin/assistant eval retrieval evals/regulation_holdout.jsonl

bench: install
	$(PY) -m benchmarks.retrieval --laws $(SHARED)/laws

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
