#!/usr/bin/env bash
# `make test`. Without CI: SQLite unless DATABASE_URL says otherwise; tests that need
# PostgreSQL or Chromium say why they are skipped. With CI=true: PostgreSQL, Redis and Chromium
# are required, and any skipped test fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var
if [ "${CI:-}" = "true" ]; then
  ./scripts/services.sh
  export DATABASE_URL="${DATABASE_URL:-$(cat var/ci-database-url)}"
  export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
fi
export DJANGO_SETTINGS_MODULE=config.settings.test
.venv/bin/python manage.py check --fail-level WARNING
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null \
  || { echo "ERROR: models changed without a migration (run makemigrations)" >&2; exit 1; }
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy  # the services' and selectors' types (pyproject.toml [tool.mypy])
# The layer contract between the apps (pyproject.toml [tool.importlinter]): orders imports no
# other app, the others only the neighbours named there, no cycles.
.venv/bin/lint-imports --no-logo --cache-dir var/import-linter-cache
# Two processes, each with its own test database, task queue, Redis and ports: on 2 cores the
# suite takes about half as long. `--dist load` hands each process its tests in collection
# order, so in each one the transactional tests still come after the others, as pytest-django
# orders them. ORDERHUB_TEST_PROCESSES=0 runs everything in this process.
exec .venv/bin/pytest -n "${ORDERHUB_TEST_PROCESSES:-2}" --dist load "$@"
