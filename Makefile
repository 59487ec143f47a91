# The two commands: `make run` (set up and run on SQLite) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv lint check clean

$(VENV)/.installed: requirements.txt
	./scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

.env:
	@echo "Writing .env for local development (DEBUG=True, a generated SECRET_KEY)"
	@printf 'DEBUG=True\nSECRET_KEY=%s\n' "$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" > .env

run: venv .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py setup_schedules
	@echo ""
	@echo "  infra_automation: http://$(HOST):$(PORT)/  (log in as 'admin')"
	@echo ""
	@bash -c 'trap "kill 0" EXIT; $(PY) manage.py qcluster & $(PY) manage.py runserver $(HOST):$(PORT)'

test: venv
	./scripts/system-deps.sh --test
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

check: venv
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var .env
