"""Sustained mixed load: customer service, the warehouse and operations working at once, over
real HTTP, on a hub of 1,000,000 orders.

    python -m bench.load [--seconds 20] [--levels 3,6,12] [--web-workers 3] [--orders 1000000]

(`make bench` runs it.) The 1,000,000-order data set of bench.boards is copied to a throwaway
database (CREATE DATABASE … TEMPLATE, so the shared set stays as built) and served by gunicorn
on 127.0.0.1 with production-like settings (DEBUG off, PostgreSQL, Redis). Closed-loop clients,
one third per role, each with its own session, request back to back (no think time):

- customer service (cs1): its board, the timeline of an order on it, and every fifth round
  approves a paid order with the version it read (a real POST through CSRF and the transition
  service);
- warehouse (wh1): its board, the live rows poll, and every third round marks an allocated
  order packed;
- operations (ops1): the operations board, the alerts board, the KPI dashboard.

Each level (total concurrent clients) runs `--seconds` after a short warm-up. Per level:
requests/s, p50/p95/max latency, errors (HTTP ≥ 400, a refused action, a connection error).
Afterwards the database is asked whether every approve and pack the clients counted as done
left exactly one event by that person: zero lost, zero doubled.

Target: p95 < 300 ms with 0 errors; the headline is the highest requests/s of a level that
meets it. Results: bench/results/load.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench.common import cpu_model, django_setup_for_bench, percentile
from bench.dataset import MAX_AGE_HOURS, dataset_database_prepare, dataset_database_select, dataset_ensure

TARGET_P95_MS = 300.0
RESULTS = Path(__file__).resolve().parent / "results" / "load.json"
ROOT = Path(__file__).resolve().parent.parent
ROLES = ("cs", "warehouse", "operations")
USERNAMES = {"cs": "cs1", "warehouse": "wh1", "operations": "ops1"}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per level (default 20)")
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="unmeasured seconds first (default 3)")
    parser.add_argument("--levels", default="3,6,12", help="concurrent clients per level, in all (default 3,6,12)")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn worker processes (default 3)")
    parser.add_argument("--web-threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the data set (default 1000000)")
    parser.add_argument("--events-per-order", type=float, default=4.0, help="average events per order (default 4)")
    parser.add_argument("--max-age-hours", type=float, default=MAX_AGE_HOURS)
    parser.add_argument("--keep-database", action="store_true", help="leave the load copy for inspection")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args, _unknown = parser.parse_known_args(argv)
    args.levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if not args.levels or min(args.levels) < len(ROLES) or args.seconds <= 0:
        parser.error(f"--levels needs at least {len(ROLES)} clients per level; --seconds must be positive")
    return args


# -- the copy the load writes into -------------------------------------------------------------


def _admin_connection():
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    return psycopg.connect(urlunsplit(parts._replace(scheme="postgresql", path="/postgres")), autocommit=True)


def load_database_copy(source: str) -> str:
    """A fresh copy of the data set for this run; the shared one stays as bench.boards built it."""
    from django.db import connections

    target = f"{source}_load"
    connections.close_all()
    with _admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    return target


def load_database_drop(name: str) -> None:
    from django.db import connections

    connections.close_all()
    with _admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _use_database(name: str) -> str:
    """Point this process and the server's environment at database `name`."""
    from urllib.parse import urlsplit, urlunsplit

    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name
    parts = urlsplit(os.environ["DATABASE_URL"])
    url = urlunsplit(parts._replace(path="/" + name))
    os.environ["DATABASE_URL"] = url
    return url


# -- what the clients work on ------------------------------------------------------------------


class Work:
    """Orders to act on (each taken once, so a refusal is a real error) and to open."""

    def __init__(self, *, users, rng: random.Random):
        from orders.models import Order
        from orders.selectors import order_list_visible_to
        from orders.states import State

        def sample(user, state, limit):
            rows = list(
                order_list_visible_to(user=user, queryset=Order.objects.filter(state=state))
                .order_by("-ordered_at")
                .values_list("number", "version")[:limit]
            )
            rng.shuffle(rows)
            return rows

        self.lock = threading.Lock()
        self.to_approve = sample(users["cs"], State.PAID, 5000)
        self.to_pack = sample(users["warehouse"], State.ALLOCATED, 5000)
        self.to_open = [n for n, _v in sample(users["cs"], State.REVIEWED, 2000)] + [
            n for n, _v in self.to_approve[-500:]
        ]
        self.done: dict[str, list[str]] = {"approve": [], "pack": []}

    def take(self, action: str):
        with self.lock:
            queue = self.to_approve if action == "approve" else self.to_pack
            return queue.pop() if queue else None


def sessions_create(users) -> dict[str, str]:
    """A logged-in session per role, as the login form would leave it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    keys = {}
    for role, user in users.items():
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        keys[role] = store.session_key
    return keys


class Client(threading.Thread):
    """One person working back to back; records (measured?, seconds, ok, what) per request."""

    def __init__(self, *, role, base, session_key, work: Work, stop: threading.Event, measuring, seed):
        super().__init__(daemon=True)
        import requests

        self.role, self.base, self.work, self.stop, self.measuring = role, base, work, stop, measuring
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.csrf = secrets.token_hex(16)  # 32 characters: a well-formed CSRF cookie value
        self.http.cookies.set("sessionid", session_key, domain="127.0.0.1")
        self.http.cookies.set("csrftoken", self.csrf, domain="127.0.0.1")
        self.samples: list[tuple[str, float, bool]] = []
        self.errors: Counter = Counter()
        self.rounds = 0

    def _request(self, what: str, method: str, path: str, **kwargs) -> bool:
        measured = self.measuring.is_set()
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=30, allow_redirects=False, **kwargs)
            ok = response.status_code < 400
            if ok and method == "POST":
                # The board answers a tap with a redirect and the message in the session: a
                # refusal shows on the next page. Ask the page the redirect names.
                ok = response.status_code == 302
            status = str(response.status_code)
        except Exception as exc:  # a refused connection or a timeout is an error, not a crash
            ok, status = False, type(exc).__name__
        seconds = time.perf_counter() - started
        if measured:
            self.samples.append((what, seconds, ok))
            if not ok:
                self.errors[f"{what} {status}"] += 1
        return ok

    def _act(self, action: str, board_path: str) -> None:
        taken = self.work.take(action)
        if taken is None:
            return
        number, version = taken
        ok = self._request(
            action,
            "POST",
            f"/boards/orders/{number}/{action}/",
            data={"expected_version": version, "next": board_path},
            headers={"X-CSRFToken": self.csrf, "Referer": self.base + board_path},
        )
        if ok and self.measuring.is_set():
            with self.work.lock:
                self.work.done[action].append(number)

    def run(self) -> None:
        while not self.stop.is_set():
            self.rounds += 1
            if self.role == "cs":
                self._request("cs board", "GET", "/boards/cs/")
                if self.work.to_open:
                    self._request("timeline", "GET", f"/orders/{self.rng.choice(self.work.to_open)}/")
                if self.rounds % 5 == 0:
                    self._act("approve", "/boards/cs/")
            elif self.role == "warehouse":
                self._request("warehouse board", "GET", "/boards/warehouse/")
                self._request("warehouse poll", "GET", "/boards/warehouse/rows/?since=0")
                if self.rounds % 3 == 0:
                    self._act("pack", "/boards/warehouse/")
            else:
                self._request("ops board", "GET", "/boards/ops/")
                self._request("alerts board", "GET", "/boards/alerts/")
                self._request("kpis", "GET", "/kpis/")


# -- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_start(*, workers: int, threads: int, log_path: Path):
    import requests

    port = _free_port()
    env = {**os.environ, "DEBUG": "false", "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
    log = open(log_path, "w")  # noqa: SIM115 - closed with the server
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped at start (exit {process.returncode}); see {log_path}")
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return process, base, log
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not answer /healthz within 60 s; see {log_path}")


def server_stop(process, log) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


# -- one level -------------------------------------------------------------------------------


def level_run(*, clients: int, base, sessions, work, seconds, warmup, seed) -> dict:
    stop, measuring = threading.Event(), threading.Event()
    per_role = {role: clients // len(ROLES) + (1 if i < clients % len(ROLES) else 0) for i, role in enumerate(ROLES)}
    threads = [
        Client(
            role=role,
            base=base,
            session_key=sessions[role],
            work=work,
            stop=stop,
            measuring=measuring,
            seed=seed * 1000 + i * 10 + n,
        )
        for i, role in enumerate(ROLES)
        for n in range(per_role[role])
    ]
    for thread in threads:
        thread.start()
    time.sleep(warmup)  # the warm-up: connections, caches, JIT-free but cold pages
    measuring.set()
    started = time.perf_counter()
    time.sleep(seconds)
    elapsed = time.perf_counter() - started
    measuring.clear()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    samples = [s for t in threads for s in t.samples]
    errors = sum((t.errors for t in threads), Counter())
    ms = [s[1] * 1000 for s in samples]
    by_what: dict[str, list[float]] = {}
    for what, sec, _ok in samples:
        by_what.setdefault(what, []).append(sec * 1000)
    p95 = round(percentile(ms, 95), 1) if ms else None
    error_count = sum(errors.values())
    return {
        "clients": clients,
        "clients_per_role": per_role,
        "seconds": round(elapsed, 1),
        "requests": len(samples),
        "requests_per_second": round(len(samples) / elapsed, 1),
        "p50_ms": round(percentile(ms, 50), 1) if ms else None,
        "p95_ms": p95,
        "max_ms": round(max(ms), 1) if ms else None,
        "errors": error_count,
        "error_kinds": dict(errors),
        "pass": bool(ms) and p95 < TARGET_P95_MS and error_count == 0,
        "per_request": {
            what: {"n": len(v), "p50_ms": round(percentile(v, 50), 1), "p95_ms": round(percentile(v, 95), 1)}
            for what, v in sorted(by_what.items())
        },
    }


def actions_verify(work: Work, users, since) -> dict:
    """Every action a client counted as done left exactly one event by that person."""
    from django.db.models import Count

    from orders.models import OrderEvent

    out = {}
    for action, role in (("approve", "cs"), ("pack", "warehouse")):
        numbers = work.done[action]
        counts = dict(
            OrderEvent.objects.filter(
                action=action, actor=users[role], occurred_at__gte=since, order__number__in=numbers
            )
            .values_list("order__number")
            .annotate(n=Count("id"))
            .values_list("order__number", "n")
        )
        out[action] = {
            "counted_done": len(numbers),
            "with_one_event": sum(1 for n in numbers if counts.get(n) == 1),
            "missing": sum(1 for n in numbers if n not in counts),
            "doubled": sum(1 for n in counts.values() if n > 1),
        }
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    source = dataset_database_select()
    if (status := django_setup_for_bench("load", need_redis=True)) is not None:
        return status
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    dataset_database_prepare()
    dataset = dataset_ensure(args.orders, events_per_order=args.events_per_order, max_age_hours=args.max_age_hours)
    copy_started = time.perf_counter()
    copy = load_database_copy(source)
    copy_seconds = time.perf_counter() - copy_started
    _use_database(copy)
    print(f"Load: {args.orders:,} orders copied to {copy} in {copy_seconds:.1f} s")

    User = get_user_model()
    users = {role: User.objects.get(username=name) for role, name in USERNAMES.items()}
    rng = random.Random(11)
    work = Work(users=users, rng=rng)
    sessions = sessions_create(users)
    since = timezone.now()
    log_path = ROOT / "var" / "bench-load-gunicorn.log"
    log_path.parent.mkdir(exist_ok=True)
    process, base, log = server_start(workers=args.web_workers, threads=args.web_threads, log_path=log_path)
    levels = []
    try:
        for i, clients in enumerate(args.levels):
            result = level_run(
                clients=clients,
                base=base,
                sessions=sessions,
                work=work,
                seconds=args.seconds,
                warmup=args.warmup_seconds,
                seed=i + 1,
            )
            levels.append(result)
            print(
                f"  {clients:3d} clients: {result['requests_per_second']:7.1f} req/s, p50 {result['p50_ms']} ms, "
                f"p95 {result['p95_ms']} ms, errors {result['errors']}"
            )
    finally:
        server_stop(process, log)
    verified = actions_verify(work, users, since)
    if not args.keep_database:
        load_database_drop(copy)

    passing = [lvl for lvl in levels if lvl["pass"]]
    best = max(passing, key=lambda lvl: lvl["requests_per_second"]) if passing else None
    actions_clean = all(v["missing"] == 0 and v["doubled"] == 0 for v in verified.values())
    result = {
        "benchmark": "load",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target_p95_ms": TARGET_P95_MS,
        "pass": best is not None and actions_clean,
        "pass_rule": "some level keeps p95 under target_p95_ms with 0 errors, and every action counted "
        "as done left exactly one event",
        "headline": {
            "requests_per_second": best["requests_per_second"] if best else None,
            "clients": best["clients"] if best else None,
            "p95_ms": best["p95_ms"] if best else None,
        },
        "levels": levels,
        "actions": verified,
        "server": {"gunicorn_workers": args.web_workers, "threads_per_worker": args.web_threads, "DEBUG": False},
        "method": "closed-loop HTTP clients (requests) on loopback against gunicorn, sessions per role, "
        "CSRF-checked POSTs through the board's transition endpoint",
        "dataset": {
            "orders": dataset.get("orders"),
            "events": dataset.get("events"),
            "copy_seconds": round(copy_seconds, 1),
        },
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(
        f"Load: best {result['headline']['requests_per_second']} req/s at p95 {result['headline']['p95_ms']} ms "
        f"({result['headline']['clients']} clients); actions {json.dumps(verified)}; pass={result['pass']}"
    )
    print(f"Results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
