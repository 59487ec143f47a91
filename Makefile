# The two commands: `make run` (set up and run on SQLite) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# requirements.txt: what production installs; requirements-dev.txt: that plus tests and tools.
# Both are lock files with hashes (`make lock` regenerates them from the *.in files).
REQUIREMENTS ?= requirements-dev.txt
COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links

.PHONY: run serve test venv lint check clean lock

$(VENV)/.installed: requirements.txt requirements-dev.txt
	./scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r $(REQUIREMENTS)
	touch $@

venv: $(VENV)/.installed

.env:
	@echo "Writing .env for local development (DEBUG=True, a generated SECRET_KEY)"
	@printf 'DEBUG=True\nSECRET_KEY=%s\nCREDENTIALS_KEY=%s\n' "$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" "$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" > .env

# Development: Django's runserver (auto-reload, DEBUG=True) and a worker.
run: venv .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py setup_schedules
	@echo ""
	@echo "  infra_automation (development server): http://$(HOST):$(PORT)/  (log in as 'admin')"
	@echo "  for production use 'make serve' or deploy/ (docs/operations.md)"
	@echo ""
	@bash -c 'trap "kill 0" EXIT; $(PY) manage.py worker & $(PY) manage.py runserver $(HOST):$(PORT)'

# Production mode for a trial: gunicorn + WhiteNoise with DEBUG=False, and a worker.
serve: venv .env
	PORT=$(PORT) ./scripts/serve.sh

# The suite runs in parallel (pytest-xdist): TEST_WORKERS processes, each with its own test
# database, ports and temporary directories (README "Tests"). The tests mostly wait on other
# processes (ansible-playbook, sshd, git, workers, Chromium), so more workers than cores pays:
# on 2 cores, SQLite 15.5 min serial, 6.5 min with 3 workers, 5.5 min with 4 (README "Tests").
# `make test TEST_WORKERS=0` runs serially. `--dist worksteal`: an idle worker takes queued
# tests from a busy one, so a few long tests do not leave the others idle at the end.
TEST_WORKERS ?= 4
test: venv
	./scripts/system-deps.sh --test
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lock: venv
	$(COMPILE) -o requirements.txt requirements.in
	$(COMPILE) -o requirements-dev.txt requirements-dev.in

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

check: venv
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var .env
