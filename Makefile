# OrderHub: `make run` serves the app with demo data; `make test` runs every test.
# Both set everything up on a fresh machine (virtualenv, pinned dependencies, migrations).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= config.settings.dev

.PHONY: run test soak setup migrate seed bench lint typecheck format check messages clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
	@mkdir -p var

migrate: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0

seed: migrate
	$(PY) manage.py setup_roles
	$(PY) manage.py seed_demo

# The web server, a Celery worker and beat, started and stopped together (honcho, Procfile).
# Without REDIS_URL the worker and beat share a folder queue under var/broker: no server needed.
run: seed
	@echo "OrderHub on http://127.0.0.1:$(PORT)/admin/  (health: /healthz; broker: $${REDIS_URL:-embedded folder queue})"
	ORDERHUB_PORT=$(PORT) $(VENV)/bin/honcho start

# With CI=true: PostgreSQL and Redis (started if down), Chromium from Debian, browser tests on.
test: setup
	./scripts/test.sh $(ARGS)

# The fault tests at full size (tests/faults, README "Faults we test"): 5,000 waybill uploads
# through a Redis restart, 200 rounds of three roles and the system on 50 orders; on
# PostgreSQL and Redis, as CI runs them.
soak: setup
	CI=true ORDERHUB_SOAK=1 ./scripts/test.sh -q tests/faults $(ARGS)

bench: setup
	./scripts/bench.sh

# ruff, and the layer contract between the apps (pyproject.toml [tool.importlinter]).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo --cache-dir var/import-linter-cache

# The services' and selectors' types (mypy with django-stubs, pyproject.toml); `make test` runs it too.
typecheck: setup
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: setup
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

messages: setup
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=var --ignore=staticfiles --ignore=bench --ignore=tests
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
