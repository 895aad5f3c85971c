# docsbot: `make demo` brings the embedded stack up; `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install clean-data lint

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU torch first, so nothing later pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	DOCSBOT_EMBEDDED_REDIS_AUTOSTART=0 $(PY) manage.py demo

# Tests use the PostgreSQL and Redis on 127.0.0.1 when they answer, else SQLite and the embedded Redis.
test: install
	@eval "$$($(PY) tests/probe_services.py)"; \
	echo "test services: DATABASE_URL=$${DATABASE_URL:-sqlite} REDIS_URL=$${REDIS_URL:-embedded}"; \
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check docsbot training serving tests bench

clean-data:
	rm -rf var
