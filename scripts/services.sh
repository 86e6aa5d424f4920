#!/usr/bin/env bash
# Make the real services the CI suite needs available, starting them if they are down:
# PostgreSQL (and the orderhub database), Redis, and Debian's Chromium for browser tests.
# Fails loudly when one cannot be had: CI never silently falls back.
set -euo pipefail

PGHOST=127.0.0.1
if ! pg_isready -q -h "$PGHOST" -p 5432 2>/dev/null; then
  echo "PostgreSQL is down: starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p 5432 && break; sleep 1; done
fi
pg_isready -h "$PGHOST" -p 5432 || { echo "ERROR: PostgreSQL is not reachable at $PGHOST:5432" >&2; exit 1; }

PGUSER_FOUND=""
for user in postgres root; do
  if psql -h "$PGHOST" -U "$user" -d postgres -Atqc "select 1" >/dev/null 2>&1; then PGUSER_FOUND=$user; break; fi
done
[ -n "$PGUSER_FOUND" ] || { echo "ERROR: neither 'postgres' nor 'root' can log in to PostgreSQL" >&2; exit 1; }
if [ "$(psql -h "$PGHOST" -U "$PGUSER_FOUND" -d postgres -Atqc "select 1 from pg_database where datname='orderhub'")" != "1" ]; then
  psql -h "$PGHOST" -U "$PGUSER_FOUND" -d postgres -qc "create database orderhub"
fi
echo "postgres://$PGUSER_FOUND@$PGHOST:5432/orderhub" > var/ci-database-url

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Redis is down: starting it"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "ERROR: Redis is not reachable at 127.0.0.1:6379" >&2; exit 1; }

# Chinese fonts too: the screenshots the browser tests take must show 订单, not boxes.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -d /usr/share/fonts/opentype/noto ]; then
  echo "Installing Debian's chromium, chromium-driver and the Noto CJK fonts for the browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
fi
/usr/bin/chromium --version >/dev/null 2>&1 || { echo "ERROR: /usr/bin/chromium does not run" >&2; exit 1; }
