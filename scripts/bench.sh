#!/usr/bin/env bash
# `make bench`: the benchmarks under bench/, on PostgreSQL (started if down, via services.sh) in
# a database of their own (orderhub_bench), migrated and with the role groups in place. Each
# benchmark writes bench/results/<name>.json. Extra arguments go to every benchmark
# (e.g. `./scripts/bench.sh --n 5000`). Fails if any benchmark fails; missing a performance
# target is not a failure (the json says "pass": false). bench.boards reads a 1,000,000-order data
# set kept in orderhub_bench_boards (the others TRUNCATE theirs), built by bench/dataset.py once;
# bench.load works on a throwaway copy of it. bench.growth keeps one set per size
# (orderhub_bench_growth_100k, _1m, _5m: ~15 GB together; the 5M one takes ~15 min to build when
# missing or older than 6 h, and is reused otherwise). Last, bench.report rewrites docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p var bench/results

./scripts/services.sh

BASE_URL="$(cat var/ci-database-url)"          # postgres://USER@127.0.0.1:5432/orderhub
PGUSER_BENCH="$(sed -E 's#^postgres://([^@:/]+).*#\1#' <<<"$BASE_URL")"
BENCH_DB=orderhub_bench
if [ "$(psql -h 127.0.0.1 -U "$PGUSER_BENCH" -d postgres -Atqc \
  "select 1 from pg_database where datname='$BENCH_DB'")" != "1" ]; then
  psql -h 127.0.0.1 -U "$PGUSER_BENCH" -d postgres -qc "create database $BENCH_DB"
fi

export DATABASE_URL="${BASE_URL%/*}/$BENCH_DB"
export DJANGO_SETTINGS_MODULE=config.settings.dev
# Benchmarks measure the production set-up: tasks go through the real Redis.
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
# A queue of the benchmarks' own, so no other worker takes their tasks.
export ORDERHUB_TASK_QUEUE="${ORDERHUB_TASK_QUEUE:-orderhub-bench}"
# Not DEBUG: Django would record every query, which is not what production pays.
export DEBUG=false

echo "Benchmark database: $DATABASE_URL"
.venv/bin/python manage.py migrate --noinput >/dev/null
.venv/bin/python manage.py setup_roles >/dev/null

status=0
for file in bench/*.py; do
  name="$(basename "$file" .py)"
  # dataset: built by the benchmarks that read it; report: run last, over every result
  case "$name" in __init__|common|dataset|report) continue ;; esac
  echo "== bench.$name"
  if ! .venv/bin/python -m "bench.$name" "$@"; then
    echo "ERROR: bench.$name failed" >&2
    status=1
  fi
done
.venv/bin/python -m bench.report
exit "$status"
